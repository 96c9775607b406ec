package main

import (
	"fmt"
	"io"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/schollz/progressbar/v3"
)

// progress reports rows, bytes and rows/s of a long command on stderr: a
// progress bar on a terminal, a plain line every few seconds otherwise,
// nothing when quiet. It is used from one goroutine.
type progress struct {
	w     io.Writer
	verb  string // "publish", "consume"
	start time.Time
	every time.Duration
	last  time.Time // last plain line
	bar   *progressbar.ProgressBar
	quiet bool
	rows  int64
	bytes int64
}

// newProgress starts a reporter. total is the number of rows expected, or
// -1 when unknown.
func (e *env) newProgress(verb string, total int64, quiet bool) *progress {
	p := &progress{w: e.stderr, verb: verb, start: time.Now(), every: e.progressEvery, quiet: quiet}
	p.last = p.start
	if quiet || !e.tty {
		return p
	}
	p.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(e.stderr),
		progressbar.OptionSetDescription(verb),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetWidth(30),
	)
	return p
}

// update records the running totals.
func (p *progress) update(rows, bytes int64) {
	p.rows, p.bytes = rows, bytes
	if p.quiet {
		return
	}
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("%s %s", p.verb, humanize.IBytes(uint64(max(bytes, 0)))))
		_ = p.bar.Set64(rows)
		return
	}
	now := time.Now()
	if now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	fmt.Fprintln(p.w, p.line(now))
}

func (p *progress) line(now time.Time) string {
	el := now.Sub(p.start)
	s := fmt.Sprintf("%s: %s rows", p.verb, humanize.Comma(p.rows))
	if p.bytes >= 0 {
		s += ", " + humanize.IBytes(uint64(p.bytes))
	}
	return s + fmt.Sprintf(", %s rows/s, %s", rate(p.rows, el), roundDuration(el))
}

// done removes the progress bar; the caller then prints its summary.
func (p *progress) done() {
	if p.bar != nil {
		_ = p.bar.Finish()
		_ = p.bar.Clear()
		fmt.Fprint(p.w, "\r")
	}
}
