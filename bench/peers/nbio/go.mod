module github.com/sockpool/sockpool/bench/peers/nbio

go 1.26.0

require github.com/lesismal/nbio v1.6.12
