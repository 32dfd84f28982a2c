// Command overload is a reproducible overload experiment: a simulated
// server of known capacity on loopback, driven open loop at multiples of
// its capacity, behind each of Levee's protections, reporting goodput and
// latency. README.md beside this file describes the method and the
// latest figures.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"text/tabwriter"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "overload:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fl := flag.NewFlagSet("overload", flag.ContinueOnError)
	load := fl.Float64("load", 0, "offered load as a multiple of capacity (0: the matrix 0.5, 1, 2, 3, 5)")
	protect := fl.String("protect", "", "protection: none, static, aimd, vegas, gradient2, gradient, shed (empty: all)")
	duration := fl.Duration("duration", 5*time.Second, "measured time per cell, after the warm-up")
	warmup := fl.Duration("warmup", time.Second, "time at 1x capacity before the step to the cell's load")
	workers := fl.Int("workers", 8, "the server's workers")
	mean := fl.Duration("mean", 10*time.Millisecond, "mean of the exponential service time")
	objective := fl.Duration("objective", 100*time.Millisecond, "latency objective: slower successes are not goodput")
	timeout := fl.Duration("timeout", time.Second, "client time-out")
	seed := fl.Uint64("seed", 1, "seed of the service times")
	sheddable := fl.Float64("sheddable", 0, "share of requests sent as SHEDDABLE (the rest CRITICAL)")
	asJSON := fl.Bool("json", false, "print JSON (one object per cell, one per line)")
	chart := fl.String("chart", "", "write a PNG chart of goodput against offered load to this file")
	if err := fl.Parse(args); err != nil {
		return err
	}
	p := Params{Workers: *workers, Mean: *mean, Objective: *objective, Timeout: *timeout, Warmup: *warmup,
		Duration: *duration, Seed: *seed, Sheddable: *sheddable}
	switch {
	case p.Workers < 1 || p.Mean <= 0 || p.Objective <= 0 || p.Timeout <= 0 || p.Duration <= 0 || p.Warmup < 0:
		return fmt.Errorf("-workers, -mean, -objective, -timeout and -duration must be positive, -warmup not negative")
	case *load < 0 || *sheddable < 0 || *sheddable > 1:
		return fmt.Errorf("-load must be >= 0 and -sheddable within [0, 1]")
	}
	protections, loads := Protections, Loads
	if *protect != "" {
		if !slices.Contains(Protections, *protect) {
			return fmt.Errorf("unknown -protect %q, want one of %v", *protect, Protections)
		}
		protections = []string{*protect}
	}
	if *load > 0 {
		loads = []float64{*load}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	unloaded, err := Unloaded(ctx, p, 4*time.Second)
	if err != nil {
		return err
	}
	var results []Result
	for _, pr := range protections {
		for _, l := range loads {
			r, err := Run(ctx, pr, l, p, unloaded)
			if err != nil {
				return err
			}
			results = append(results, r)
			if *asJSON {
				b, _ := json.Marshal(r)
				fmt.Fprintln(stdout, string(b))
			}
		}
	}
	if !*asJSON {
		printTable(stdout, p, results)
	}
	if *chart != "" {
		f, err := os.Create(*chart)
		if err != nil {
			return err
		}
		if err := writeChart(f, p, results); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return nil
}

func printTable(w io.Writer, p Params, rs []Result) {
	fmt.Fprintf(w, "server: %d workers, exponential service time mean %v (capacity %.0f rps); objective %v; %v per cell after %v at 1x\n",
		p.Workers, p.Mean, p.Capacity(), p.Objective, p.Duration, p.Warmup)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "protect\tload\toffered rps\tgoodput rps\tgoodput/cap\tp50 ms\tp99 ms\tunloaded p99\trejected\tconverge ms\t")
	for _, r := range rs {
		conv := "never"
		if r.ConvergeMs >= 0 {
			conv = fmt.Sprintf("%.0f", r.ConvergeMs)
		}
		fmt.Fprintf(tw, "%s\t%.1fx\t%.0f\t%.0f\t%.0f%%\t%.1f\t%.1f\t%.1f\t%.0f%%\t%s\t\n", r.Protect, r.Load, r.OfferedRPS,
			r.GoodputRPS, 100*r.GoodputRPS/r.CapacityRPS, r.P50ms, r.P99ms, r.UnloadedP99ms, 100*r.RejectedRatio, conv)
	}
	tw.Flush()
}
