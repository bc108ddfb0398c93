package demo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/posrelay/posrelay/wix"
)

// kitSite is the Velo kit (wix/) running under Node as the demo's Wix
// backend: the shop creates payments through the kit's createTransaction
// and the relay's webhooks reach the kit's post_posrelay, so the demo runs
// the code a Wix site runs.
type kitSite struct {
	URL string // http://127.0.0.1:PORT
}

// startKit extracts the kit into dir and starts it under Node. It needs
// demo.json at demoJSON. It returns nil, nil when Node is not installed.
func startKit(ctx context.Context, wg *sync.WaitGroup, dir, demoJSON string) (*kitSite, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, nil
	}
	if err := extractKit(dir); err != nil {
		return nil, err
	}
	cmd := exec.Command(node, filepath.Join("testing", "serve.mjs"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "POSRELAY_DEMO_JSON="+demoJSON, "POSRELAY_SITE_PORT=0")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the Velo kit under node: %w", err)
	}
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if p, ok := strings.CutPrefix(line, "listening "); ok {
				select {
				case port <- p:
				default:
				}
				continue
			}
			fmt.Fprintln(os.Stderr, "velo kit:", line)
		}
	}()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	select {
	case p := <-port:
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ctx.Done()
			stop()
		}()
		return &kitSite{URL: "http://" + net.JoinHostPort("127.0.0.1", p)}, nil
	case <-time.After(15 * time.Second):
		stop()
		return nil, errors.New("the Velo kit did not start under node in 15 s")
	}
}

// extractKit writes the embedded kit (backend/, testing/, package.json) to dir.
func extractKit(dir string) error {
	return fs.WalkDir(wix.Kit, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, path)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		b, err := wix.Kit.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o600)
	})
}
