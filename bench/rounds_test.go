package main

import (
	"reflect"
	"slices"
	"testing"
)

func TestSchedule(t *testing.T) {
	t.Parallel()
	// Two workloads of three and two cells, then an idle cell.
	cells := []cell{
		{Kind: kindEcho, Engine: "a", Size: 64, Conns: 1},
		{Kind: kindEcho, Engine: "b", Size: 64, Conns: 1},
		{Kind: kindEcho, Engine: "c", Size: 64, Conns: 1},
		{Kind: kindEcho, Engine: "a", Size: 64, Conns: 50},
		{Kind: kindEcho, Engine: "b", Size: 64, Conns: 50},
		{Kind: kindIdle, Engine: "a", Conns: 1000},
	}
	tests := []struct {
		rounds int
		want   []int
	}{
		{1, []int{0, 1, 2, 3, 4, 5}},
		{3, []int{
			0, 1, 2, 3, 4, 5,
			1, 2, 0, 4, 3, 5,
			2, 0, 1, 3, 4, 5,
		}},
	}
	for _, tt := range tests {
		if got := schedule(cells, tt.rounds); !slices.Equal(got, tt.want) {
			t.Errorf("schedule(%d rounds) = %v, want %v", tt.rounds, got, tt.want)
		}
	}
}

func TestCombineRounds(t *testing.T) {
	t.Parallel()
	echo := func(msgs float64, status string) result {
		return result{Kind: kindEcho, Engine: "threaded", Conns: 4, MsgsPerSec: msgs, P99us: msgs / 100, Status: status}
	}
	starved := echo(700, statusStarved)
	starved.Starved = 2
	failed := echo(0, statusFailed)
	failed.Error = "conn 1: short read"

	tests := []struct {
		name   string
		rounds []result
		want   result
	}{
		{"one round is left alone", []result{echo(500, statusOK)}, echo(500, statusOK)},
		{"odd: the middle round, all of its figures",
			[]result{echo(900, statusOK), echo(300, statusOK), echo(600, statusOK)},
			result{Kind: kindEcho, Engine: "threaded", Conns: 4, MsgsPerSec: 600, P99us: 6, Status: statusOK,
				Rounds: 3, RoundValues: []float64{900, 300, 600}, RoundMin: 300, RoundMax: 900}},
		{"even: the lower middle round",
			[]result{echo(400, statusOK), echo(100, statusOK), echo(800, statusOK), echo(200, statusOK)},
			result{Kind: kindEcho, Engine: "threaded", Conns: 4, MsgsPerSec: 200, P99us: 2, Status: statusOK,
				Rounds: 4, RoundValues: []float64{400, 100, 800, 200}, RoundMin: 100, RoundMax: 800}},
		{"a starved round flags the cell",
			[]result{echo(500, statusOK), starved, echo(600, statusOK)},
			result{Kind: kindEcho, Engine: "threaded", Conns: 4, MsgsPerSec: 600, P99us: 6, Status: statusStarved, Starved: 2,
				Rounds: 3, RoundValues: []float64{500, 700, 600}, RoundMin: 500, RoundMax: 700}},
		{"a failed round fails the cell",
			[]result{echo(500, statusOK), failed, echo(600, statusOK)},
			result{Kind: kindEcho, Engine: "threaded", Conns: 4, Status: statusFailed,
				Error: "round 2 of 3: conn 1: short read", Rounds: 3}},
		{"msg/srv-CPU-s has a median of its own",
			[]result{
				{Kind: kindEcho, Engine: "evented", Conns: 4, MsgsPerSec: 900, MsgsPerCPUSec: 100, Status: statusOK},
				{Kind: kindEcho, Engine: "evented", Conns: 4, MsgsPerSec: 300, MsgsPerCPUSec: 300, Status: statusOK},
				{Kind: kindEcho, Engine: "evented", Conns: 4, MsgsPerSec: 600, MsgsPerCPUSec: 250, Status: statusOK},
				{Kind: kindEcho, Engine: "evented", Conns: 4, MsgsPerSec: 700, MsgsPerCPUSec: 200, Status: statusOK},
			},
			result{Kind: kindEcho, Engine: "evented", Conns: 4, MsgsPerSec: 600, MsgsPerCPUSec: 250, Status: statusOK,
				Rounds: 4, RoundValues: []float64{900, 300, 600, 700}, RoundMin: 300, RoundMax: 900,
				EffRoundValues: []float64{100, 300, 250, 200}, EffMedian: 200, EffMin: 100, EffMax: 300}},
		{"idle cells go by RSS per connection",
			[]result{
				{Kind: kindIdle, Engine: "evented", Conns: 1000, RSSPerConn: 900, RSSAfter: 9, Status: statusOK},
				{Kind: kindIdle, Engine: "evented", Conns: 1000, RSSPerConn: 500, RSSAfter: 5, Status: statusOK},
				{Kind: kindIdle, Engine: "evented", Conns: 1000, RSSPerConn: 700, RSSAfter: 7, Status: statusOK},
			},
			result{Kind: kindIdle, Engine: "evented", Conns: 1000, RSSPerConn: 700, RSSAfter: 7, Status: statusOK,
				Rounds: 3, RoundValues: []float64{900, 500, 700}, RoundMin: 500, RoundMax: 900}},
	}
	for _, tt := range tests {
		if got := combineRounds(tt.rounds); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

func TestFmtRate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		v    float64
		want string
	}{
		{0, "0"}, {987.4, "987"}, {999.6, "1.00k"}, {1234, "1.23k"}, {61725, "61.7k"},
		{108126, "108k"}, {999_600, "1.00M"}, {1_234_000, "1.23M"},
	} {
		if got := fmtRate(tt.v); got != tt.want {
			t.Errorf("fmtRate(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
