package window

import "math"

// Calendar windows: tumbling windows of whole calendar months in UTC
// (Assigner.Months; "tumbling(1mo)", "tumbling(1y)"). Their panes are the
// windows themselves, keyed by their start (ms since the epoch, the first
// day of a month at 00:00 UTC) like fixed panes; only the arithmetic that
// maps a time to its pane and a pane to its end differs. Months are
// numbered from January 1970 (month 0); a window of n months starts at a
// month whose number is a multiple of n, so "tumbling(1y)" windows start
// on January 1st and "tumbling(3mo)" windows on calendar quarters.

const msPerDay = 86_400_000

// daysFromCivil returns the day number (days since 1970-01-01) of the
// proleptic Gregorian date y-m-d (m in 1..12), exact for every int64
// day number (H. Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400 // [0, 399]
	mp := (m + 9) % 12 // March = 0
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil: year and month (1..12)
// of day number z.
func civilFromDays(z int64) (y, m int64) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m
}

// monthIndex returns the number of the UTC calendar month of t (ms since
// the epoch): 0 for January 1970, -1 for December 1969.
func monthIndex(t int64) int64 {
	y, m := civilFromDays(floorDiv(t, msPerDay))
	return (y-1970)*12 + m - 1
}

// monthStart returns the start (ms since the epoch) of month number mi,
// saturated to the int64 range.
func monthStart(mi int64) int64 {
	yi := floorDiv(mi, 12)
	days := daysFromCivil(1970+yi, mi-yi*12+1, 1)
	switch {
	case days > math.MaxInt64/msPerDay:
		return math.MaxInt64
	case days < math.MinInt64/msPerDay:
		return math.MinInt64
	}
	return days * msPerDay
}

// paneIndex returns the number of the pane of t: floor((t - offset) /
// pane) for fixed panes, floor(month / Months) for calendar ones.
func (o *Operator) paneIndex(t int64) int64 {
	if o.months > 0 {
		return floorDiv(monthIndex(t), o.months)
	}
	return floorDiv(t-o.off, o.pane)
}

// paneStart returns the start of the pane of t.
func (o *Operator) paneStart(t int64) int64 {
	if o.months > 0 {
		return monthStart(o.paneIndex(t) * o.months)
	}
	return align(t, o.pane, o.off)
}

// paneEnd returns the end of the pane that starts at ps (the next pane's
// start).
func (o *Operator) paneEnd(ps int64) int64 {
	if o.months > 0 {
		return monthStart((o.paneIndex(ps) + 1) * o.months)
	}
	return satAdd(ps, o.pane)
}

// windowEnd returns the end of the window that starts at ws.
func (o *Operator) windowEnd(ws int64) int64 {
	if o.months > 0 {
		return o.paneEnd(ws)
	}
	return satAdd(ws, o.size)
}

// nextWindow returns the start of the window after the one at ws.
func (o *Operator) nextWindow(ws int64) int64 {
	if o.months > 0 {
		return o.paneEnd(ws)
	}
	return satAdd(ws, o.slide)
}
