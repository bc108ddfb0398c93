package main

// `bench fuzz`: every Fuzz target of the module, one after another, for
// longer than CI runs them (CI only replays the seed corpus).

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// fuzzTarget is one Fuzz function of one package.
type fuzzTarget struct{ pkg, name string }

// listFuzzTargets asks `go test -list` for the module's Fuzz functions. Its
// output gives each package's names first, then the package's "ok" line.
func listFuzzTargets(root string) ([]fuzzTarget, error) {
	cmd := exec.Command("go", "test", "-list", "^Fuzz", "./...")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go test -list: %w", err)
	}
	var targets []fuzzTarget
	var names []string
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		line := sc.Text()
		switch f := strings.Fields(line); {
		case len(f) == 1 && strings.HasPrefix(f[0], "Fuzz"):
			names = append(names, f[0])
		case len(f) >= 2 && f[0] == "ok":
			for _, n := range names {
				targets = append(targets, fuzzTarget{pkg: f[1], name: n})
			}
			names = nil
		case len(f) >= 2 && f[0] == "?": // no test files
			names = nil
		}
	}
	return targets, sc.Err()
}

func fuzzMain(args []string) int {
	fs := flag.NewFlagSet("bench fuzz", flag.ContinueOnError)
	fuzztime := fs.String("fuzztime", "1m", "time per target (a duration, or Nx for N runs), passed to go test -fuzztime")
	match := fs.String("match", "", "only targets whose package/name matches this regular expression")
	parallel := fs.Int("parallel", 0, "fuzzing workers per target (0: GOMAXPROCS)")
	list := fs.Bool("list", false, "list the targets and stop")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench fuzz:", err)
		return 1
	}
	var re *regexp.Regexp
	if *match != "" {
		if re, err = regexp.Compile(*match); err != nil {
			fmt.Fprintln(os.Stderr, "bench fuzz: -match:", err)
			return 2
		}
	}
	all, err := listFuzzTargets(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench fuzz:", err)
		return 1
	}
	var targets []fuzzTarget
	for _, t := range all {
		if re == nil || re.MatchString(t.pkg+"/"+t.name) {
			targets = append(targets, t)
		}
	}
	if *list || len(targets) == 0 {
		for _, t := range targets {
			fmt.Printf("%s %s\n", t.pkg, t.name)
		}
		if len(targets) == 0 {
			fmt.Fprintln(os.Stderr, "bench fuzz: no Fuzz targets match")
			return 1
		}
		return 0
	}
	fmt.Printf("fuzzing %d targets, -fuzztime %s each\n", len(targets), *fuzztime)
	type outcome struct {
		t       fuzzTarget
		took    time.Duration
		ok      bool
		crasher string
	}
	var results []outcome
	failed := 0
	for i, t := range targets {
		fmt.Printf("\n[%d/%d] %s %s\n", i+1, len(targets), t.pkg, t.name)
		cmdArgs := []string{"test", "-run", "^$", "-fuzz", "^" + t.name + "$", "-fuzztime", *fuzztime}
		if *parallel > 0 {
			cmdArgs = append(cmdArgs, "-parallel", fmt.Sprint(*parallel))
		}
		cmd := exec.Command("go", append(cmdArgs, t.pkg)...)
		cmd.Dir = root
		var tail bytes.Buffer
		w := io.MultiWriter(os.Stdout, &tail)
		cmd.Stdout, cmd.Stderr = w, w
		start := time.Now()
		err := cmd.Run()
		o := outcome{t: t, took: time.Since(start), ok: err == nil}
		if !o.ok {
			failed++
			if m := regexp.MustCompile(`Failing input written to (\S+)`).FindStringSubmatch(tail.String()); m != nil {
				o.crasher = m[1]
			}
		}
		results = append(results, o)
	}
	fmt.Printf("\n%-40s %-28s %9s  %s\n", "package", "target", "time", "result")
	for _, o := range results {
		res := "ok"
		if !o.ok {
			res = "FAIL"
			if o.crasher != "" {
				res += " — reproduce with: go test -run '" + o.t.name + "/" + lastElem(o.crasher) + "' " + o.t.pkg + "  (input " + o.crasher + ")"
			}
		}
		fmt.Printf("%-40s %-28s %9s  %s\n", strings.TrimPrefix(o.t.pkg, "github.com/posrelay/posrelay/"), o.t.name, o.took.Round(time.Second), res)
	}
	if failed > 0 {
		fmt.Printf("\n%d of %d targets failed\n", failed, len(results))
		return 1
	}
	fmt.Printf("\nall %d targets passed\n", len(results))
	return 0
}

func lastElem(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// moduleRoot is the directory of the go.mod the go command sees from here.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the posrelay module: run from its directory")
	}
	return mod[:strings.LastIndexByte(mod, '/')], nil
}
