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
// [first row, last row + Gap): a row at t opens [t, t+Gap), which merges
// with every session it intersects, touching included (Flink's
// TimeWindow.intersects), so rows exactly Gap apart are one session.
//
// Sliding windows are computed from panes of gcd(Size, Slide): a row
// updates one pane and a window is the merge of its Size/gcd panes when it
// fires, so the cost per row does not grow with Size/Slide.
//
// Calendar windows are tumbling windows of Months whole calendar months
// in UTC (Kind KindTumbling, Size, Slide and Offset zero): a window starts
// on the first day of a month at 00:00 UTC and ends where the next one
// starts, so windows are 28 to 31 days long (1 month) or 365 or 366 days
// (12 months). Months are counted from January 1970, and a window starts
// at a month whose count is a multiple of Months: Months = 12 gives
// calendar years, 3 calendar quarters. Sliding calendar windows are not
// supported.
type Assigner struct {
	Kind   Kind
	Size   time.Duration // tumbling and sliding
	Slide  time.Duration // sliding (equal to Size for tumbling)
	Offset time.Duration // tumbling and sliding; may be negative
	Gap    time.Duration // session
	Months int           // calendar tumbling windows: months per window (12: years)
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

// TumblingMonths returns an assigner of tumbling windows of n calendar
// months in UTC (n = 12: calendar years); see Assigner.
func TumblingMonths(n int) Assigner {
	return Assigner{Kind: KindTumbling, Months: n}
}

// Session returns an assigner of per-key session windows closed by gap.
func Session(gap time.Duration) Assigner {
	return Assigner{Kind: KindSession, Gap: gap}
}

// String formats a in the syntax ParseAssigner reads.
func (a Assigner) String() string {
	switch a.Kind {
	case KindTumbling:
		if a.Months != 0 {
			return "tumbling(" + calendarString(a.Months) + ")"
		}
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
// slide or gap, a slide larger than the size, a duration that is not a
// whole number of milliseconds, or Months set on anything but a tumbling
// window without Size, Slide or Offset (or negative).
func (a Assigner) Validate() error {
	if a.Months != 0 {
		switch {
		case a.Kind != KindTumbling:
			return fmt.Errorf("%w: %s: calendar months and years only make tumbling windows", ErrSpec, a.Kind)
		case a.Months < 0:
			return fmt.Errorf("%w: tumbling window of %d months", ErrSpec, a.Months)
		case a.Size != 0 || a.Slide != 0 || a.Offset != 0:
			return fmt.Errorf("%w: calendar tumbling window of %d months with a size, slide or offset", ErrSpec, a.Months)
		}
		return nil
	}
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
// e.g. "sliding(7d, 1d)", and calendar tumbling windows in UTC:
// "tumbling(1mo)" (months), "tumbling(1y)" (years), "tumbling(3mo)"
// (quarters); see Assigner. Calendar units take no offset and make no
// sliding or session windows ("sliding(1y, 1mo)" is an ErrSpec error).
// The result is validated.
func ParseAssigner(s string) (Assigner, error) {
	name, args, err := call(s)
	if err != nil {
		return Assigner{}, err
	}
	for _, arg := range args {
		n, ok, err := parseCalendar(arg)
		if err != nil {
			return Assigner{}, err
		}
		if !ok {
			continue
		}
		if name != "tumbling" {
			return Assigner{}, fmt.Errorf("%w: window %q: calendar units (mo, y) only make tumbling windows: use tumbling(%s), or fixed durations such as sliding(365d, 30d)", ErrSpec, s, arg)
		}
		if len(args) != 1 {
			return Assigner{}, fmt.Errorf("%w: window %q: a calendar tumbling window takes no offset", ErrSpec, s)
		}
		a := TumblingMonths(n)
		return a, a.Validate()
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

// parseCalendar reads a count of calendar months ("3mo") or years
// ("1y"); ok is false for anything else (a duration).
func parseCalendar(s string) (months int, ok bool, err error) {
	num, mul := "", 0
	if n, cut := strings.CutSuffix(s, "mo"); cut {
		num, mul = n, 1
	} else if n, cut := strings.CutSuffix(s, "y"); cut {
		num, mul = n, 12
	} else {
		return 0, false, nil
	}
	v, perr := strconv.Atoi(strings.TrimSpace(num))
	if perr != nil || v <= 0 || v > 12_000 {
		return 0, false, fmt.Errorf("%w: calendar window %q (want a positive count of mo or y, e.g. 1mo, 1y)", ErrSpec, s)
	}
	return v * mul, true, nil
}

// calendarString formats months as parseCalendar reads them.
func calendarString(months int) string {
	if months%12 == 0 {
		return strconv.Itoa(months/12) + "y"
	}
	return strconv.Itoa(months) + "mo"
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
