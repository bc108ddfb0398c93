// Command bench is posrelay's load harness. It runs, all on loopback, the
// Halkbank simulator (in this process), the relay (the built binary, its
// own process, durable SQLite journal), nginx where installed (forwarding
// to the simulator) and a load generator (this binary again, `bench load`,
// its own process), and prints side by side what the relay costs against
// calling the simulator directly and against nginx. Nothing here asserts
// a figure: targets are printed as PASS or MISS.
//
//	go run ./bench [--quick] [--duration 10s] [--conns 64] [--rate N] [--sections forward,create,…]
//	go run ./bench fuzz [-fuzztime 5m] [-match REGEXP]
//
// See bench/README.md.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "load":
			os.Exit(loadMain(os.Args[2:]))
		case "fuzz":
			os.Exit(fuzzMain(os.Args[2:]))
		case "help":
			fmt.Println("usage: go run ./bench [flags]   (flags: go run ./bench -h)\n       go run ./bench fuzz [-fuzztime 5m] [-match REGEXP]   (flags: go run ./bench fuzz -h)")
			os.Exit(0)
		}
	}
	os.Exit(runMain(os.Args[1:]))
}
