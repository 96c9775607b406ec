package window

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kind is the kind of window an Assigner makes.
type Kind int

// Window kinds.
const (
	KindTumbling Kind = iota + 1 // fixed, non-overlapping windows of Size
	KindSliding                  // windows of Size starting every Slide
	KindSession                  // per-key activity periods closed by a Gap
)

// String returns "tumbling", "sliding" or "session".
func (k Kind) String() string {
	switch k {
	case KindTumbling:
		return "tumbling"
	case KindSliding:
		return "sliding"
	case KindSession:
		return "session"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Assigner says which windows a row belongs to. Build one with Tumbling,
// Sliding, Session or ParseAssigner. All durations must be whole
// milliseconds (event time is in ms).
//
// Windows are half-open [start, end) in event time. Tumbling and sliding
// windows start at Offset + k*Slide (Slide = Size for tumbling) and are
// aligned to the Unix epoch plus Offset. A session window of one key is
// [first row, last row + Gap): a row extends the session it falls into and
// a row that falls into two sessions merges them.
//
// Sliding windows are computed from panes of gcd(Size, Slide): a row
// updates one pane and a window is the merge of its Size/gcd panes when it
// fires, so the cost per row does not grow with Size/Slide.
type Assigner struct {
	Kind   Kind
	Size   time.Duration // tumbling and sliding
	Slide  time.Duration // sliding (equal to Size for tumbling)
	Offset time.Duration // tumbling and sliding; may be negative
	Gap    time.Duration // session
}

// Tumbling returns an assigner of windows [offset + k*size, offset + (k+1)*size).
func Tumbling(size, offset time.Duration) Assigner {
	return Assigner{Kind: KindTumbling, Size: size, Slide: size, Offset: offset}
}

// Sliding returns an assigner of windows of size starting every slide
// (at offset + k*slide). A row belongs to size/slide windows.
func Sliding(size, slide, offset time.Duration) Assigner {
	return Assigner{Kind: KindSliding, Size: size, Slide: slide, Offset: offset}
}

// Session returns an assigner of per-key session windows closed by gap.
func Session(gap time.Duration) Assigner {
	return Assigner{Kind: KindSession, Gap: gap}
}

// String formats a in the syntax ParseAssigner reads.
func (a Assigner) String() string {
	switch a.Kind {
	case KindTumbling:
		if a.Offset != 0 {
			return fmt.Sprintf("tumbling(%v, %v)", a.Size, a.Offset)
		}
		return fmt.Sprintf("tumbling(%v)", a.Size)
	case KindSliding:
		if a.Offset != 0 {
			return fmt.Sprintf("sliding(%v, %v, %v)", a.Size, a.Slide, a.Offset)
		}
		return fmt.Sprintf("sliding(%v, %v)", a.Size, a.Slide)
	case KindSession:
		return fmt.Sprintf("session(%v)", a.Gap)
	}
	return "invalid"
}

// Validate reports an ErrSpec error for a zero Kind, a non-positive size,
// slide or gap, a slide larger than the size, or a duration that is not a
// whole number of milliseconds.
func (a Assigner) Validate() error {
	whole := func(what string, d time.Duration) error {
		if d%time.Millisecond != 0 {
			return fmt.Errorf("%w: %s %v is not a whole number of milliseconds", ErrSpec, what, d)
		}
		return nil
	}
	switch a.Kind {
	case KindTumbling, KindSliding:
		if a.Size <= 0 || a.Slide <= 0 {
			return fmt.Errorf("%w: %s: size and slide must be positive", ErrSpec, a)
		}
		if a.Slide > a.Size {
			return fmt.Errorf("%w: %s: slide larger than size", ErrSpec, a)
		}
		if a.Kind == KindTumbling && a.Slide != a.Size {
			return fmt.Errorf("%w: %s: tumbling slide must equal size", ErrSpec, a)
		}
		for _, e := range []error{whole("size", a.Size), whole("slide", a.Slide), whole("offset", a.Offset)} {
			if e != nil {
				return e
			}
		}
		return nil
	case KindSession:
		if a.Gap <= 0 {
			return fmt.Errorf("%w: %s: gap must be positive", ErrSpec, a)
		}
		return whole("gap", a.Gap)
	}
	return fmt.Errorf("%w: no window kind", ErrSpec)
}

// ParseAssigner reads "tumbling(size[, offset])", "sliding(size, slide[,
// offset])" or "session(gap)", with durations as ParseDuration reads them,
// e.g. "sliding(7d, 1d)". The result is validated.
func ParseAssigner(s string) (Assigner, error) {
	name, args, err := call(s)
	if err != nil {
		return Assigner{}, err
	}
	ds := make([]time.Duration, len(args))
	for i, a := range args {
		if ds[i], err = ParseDuration(a); err != nil {
			return Assigner{}, err
		}
	}
	var a Assigner
	switch {
	case name == "tumbling" && (len(ds) == 1 || len(ds) == 2):
		a = Tumbling(ds[0], 0)
		if len(ds) == 2 {
			a.Offset = ds[1]
		}
	case name == "sliding" && (len(ds) == 2 || len(ds) == 3):
		a = Sliding(ds[0], ds[1], 0)
		if len(ds) == 3 {
			a.Offset = ds[2]
		}
	case name == "session" && len(ds) == 1:
		a = Session(ds[0])
	default:
		return Assigner{}, fmt.Errorf("%w: window %q (want tumbling(size[, offset]), sliding(size, slide[, offset]) or session(gap))", ErrSpec, s)
	}
	return a, a.Validate()
}

// ParseDuration reads a Go duration ("90s", "1h30m", "-15m") and also a
// whole number of days ("7d"), which time.ParseDuration lacks.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(d, 10, 64)
		if err == nil {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%w: duration %q", ErrSpec, s)
	}
	return d, nil
}

// call splits "name(a, b)" into name and trimmed arguments.
func call(s string) (string, []string, error) {
	s = strings.TrimSpace(s)
	open := strings.IndexByte(s, '(')
	if open < 0 || !strings.HasSuffix(s, ")") {
		return "", nil, fmt.Errorf("%w: %q is not name(args)", ErrSpec, s)
	}
	name := strings.ToLower(strings.TrimSpace(s[:open]))
	inner := strings.TrimSpace(s[open+1 : len(s)-1])
	var args []string
	if inner != "" {
		for a := range strings.SplitSeq(inner, ",") {
			args = append(args, strings.TrimSpace(a))
		}
	}
	return name, args, nil
}

// gcd of two positive numbers.
func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
