package main

import (
	"fmt"
	"testing"
)

// argvOf returns the argv the parser makes of a multibulk request of args.
func argvOf(args ...string) *argv {
	p := newParser(limits{})
	p.begin([]byte(resp(args...)))
	a, err := p.next()
	if err != nil || a == nil {
		panic(fmt.Sprintf("argvOf(%q): %v, %v", args, a, err))
	}
	return a
}

func TestArgv(t *testing.T) {
	t.Parallel()
	long := string(make([]byte, 12345))
	cases := []struct {
		name string
		in   string
		want []string // "<nil>" for a null bulk string
	}{
		{"one", resp("PING"), []string{"PING"}},
		{"empty and binary", resp("SET", "", "\r\n$3\r\n\x00"), []string{"SET", "", "\r\n$3\r\n\x00"}},
		{"null", "*3\r\n$3\r\nGET\r\n$-1\r\n$1\r\nk\r\n", []string{"GET", "<nil>", "k"}},
		{"long", resp("ECHO", long), []string{"ECHO", long}},
		{"inline (packed)", "SET k \"\" 'a b'\r\n", []string{"SET", "k", "", "a b"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newParser(limits{})
			p.begin([]byte(tc.in))
			a, err := p.next()
			if err != nil || a == nil {
				t.Fatalf("next = %v, %v", a, err)
			}
			if a.len() != len(tc.want) {
				t.Fatalf("len %d, want %d", a.len(), len(tc.want))
			}
			for i, w := range tc.want {
				got := a.at(i)
				if w == "<nil>" {
					if got != nil {
						t.Errorf("at(%d) = %q, want nil", i, got)
					}
					continue
				}
				if got == nil || string(got) != w || cap(got) != len(got) {
					t.Errorf("at(%d) = %q (cap %d), want %q with no spare capacity", i, got, cap(got), w)
				}
			}
		})
	}
}
