package cli

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// demoGauges are what the demo reads from the gateway's /metrics, as
// Prometheus would: the recommendations breaker's state, how often it
// opened and closed and how many requests it refused, and the orders
// route's adaptive limit (0 until it first changed).
type demoGauges struct {
	state           string
	opened, closed  int
	breakerRefusals int
	limit           float64
}

// demoPhaseStats is what one phase of the timeline saw.
type demoPhaseStats struct {
	kind     demoPhaseKind
	started  time.Time
	length   time.Duration // as it ran
	counts   demoCounts
	last     demoCounts // the last tick's
	gauges   demoGauges // at the end of the phase
	opened   int        // breaker openings during the phase
	closed   int        // breaker closings during the phase
	refusals int        // breaker refusals during the phase

	limitMin, limitMax float64 // the adaptive limit seen at its ticks (0: never changed)
	start              demoGauges

	rolledBack bool   // bad config: the self-check rolled the change back
	reload     string // bad config: the last reload's state, as the admin API says
}

// demoReport prints a line per tick and the summary.
type demoReport struct {
	out     io.Writer
	metrics string
	client  *http.Client
	prev    demoGauges
	initial float64 // the adaptive limit before it first changes
}

func newDemoReport(out io.Writer, admin string) *demoReport {
	r := &demoReport{out: out, metrics: admin + "/metrics", client: &http.Client{Timeout: 2 * time.Second}, initial: 16}
	r.prev = r.scrape()
	return r
}

// begin announces phase p and returns its stats to fill.
func (r *demoReport) begin(p demoPhase) *demoPhaseStats {
	fmt.Fprintf(r.out, "\n── %s (%v): %s\n", p.kind, p.length.Round(10*time.Millisecond), p.story)
	fmt.Fprintf(r.out, "%7s %6s %5s %8s | refused: %4s %7s %5s %6s | %7s %4s | %-9s %5s\n",
		"time", "req/s", "2xx", "fallback", "429", "breaker", "shed", "limit", "timeout", "5xx", "breaker", "limit")
	return &demoPhaseStats{kind: p.kind, started: time.Now(), start: r.prev}
}

// row prints the counts of one tick with the gateway's state.
func (r *demoReport) row(s *demoPhaseStats, at time.Duration, c demoCounts) {
	g := r.observe(s, c)
	refused := g.breakerRefusals - r.prev.breakerRefusals
	r.prev = g
	secs := max(time.Since(s.started)-s.length, time.Millisecond).Seconds()
	s.length = time.Since(s.started)
	fmt.Fprintf(r.out, "%6.1fs %6.0f %5d %8d | refused: %4d %7d %5d %6d | %7d %4d | %-9s %5s\n",
		at.Seconds(), float64(c[cSent])/secs, c[cOK], c[cFallback], c[cRateLimited], refused,
		c[cShed], c[cConcurrency], c[cTimeout], c[cUpstream5xx], g.state, r.limitText(g.limit))
}

// observe adds a tick's counts to s and reads the gateway's state.
func (r *demoReport) observe(s *demoPhaseStats, c demoCounts) demoGauges {
	s.counts.add(c)
	s.last = c
	g := r.scrape()
	l := g.limit
	if l == 0 {
		l = r.initial
	}
	if s.limitMin == 0 || l < s.limitMin {
		s.limitMin = l
	}
	s.limitMax = max(s.limitMax, l)
	return g
}

// end closes s with the counts since its last tick.
func (r *demoReport) end(s *demoPhaseStats, c demoCounts) demoPhaseStats {
	g := r.observe(s, c)
	r.prev = g
	s.length = time.Since(s.started)
	s.gauges = g
	s.opened = g.opened - s.start.opened
	s.closed = g.closed - s.start.closed
	s.refusals = g.breakerRefusals - s.start.breakerRefusals
	return *s
}

func (r *demoReport) limitText(l float64) string {
	if l == 0 {
		l = r.initial
	}
	return strconv.FormatFloat(l, 'f', 0, 64)
}

// note prints a line about the phase that is not a tick: what an action
// through the admin API did.
func (r *demoReport) note(s *demoPhaseStats, line string) {
	fmt.Fprintf(r.out, "  %-9s %s\n", s.kind, line)
}

// summary prints what each phase showed.
func (r *demoReport) summary(stats []demoPhaseStats) {
	fmt.Fprintf(r.out, "\nsummary, phase by phase:\n")
	var total demoCounts
	for _, s := range stats {
		c := s.counts
		total.add(c)
		fmt.Fprintf(r.out, "  %-9s %6.1fs %6d requests: 2xx %d, fallback %d, refused %d (429 %d, shed %d, limit %d), timeout %d, 5xx %d; "+
			"breaker opened %d, closed %d, refused %d, ends %s; limit %s–%s\n",
			s.kind, s.length.Seconds(), c[cSent], c[cOK], c[cFallback], c.refused(), c[cRateLimited], c[cShed], c[cConcurrency],
			c[cTimeout], c[cUpstream5xx], s.opened, s.closed, s.refusals, s.gauges.state,
			r.limitText(s.limitMin), r.limitText(s.limitMax))
		if s.kind == phaseBadConfig {
			fmt.Fprintf(r.out, "            %s\n", s.reload)
		}
		if s.kind == phaseFlood {
			fmt.Fprintf(r.out, "            /orders by criticality: SHEDDABLE refused %s, CRITICAL refused %s; CRITICAL answered 2xx %s\n",
				share(c[cSheddableRefused], c[cSheddableSent]), share(c[cCriticalRefused], c[cCriticalSent]),
				share(c[cCriticalOK], c[cCriticalSent]))
		}
	}
	fmt.Fprintf(r.out, "total: %d requests, %d answered, no answer %d\n", total[cSent], total[cSent]-total[cFailed], total[cFailed])
}

// share is "12% (3 of 25)".
func share(n, of int64) string {
	if of == 0 {
		return "0% (0 of 0)"
	}
	return fmt.Sprintf("%.0f%% (%d of %d)", 100*float64(n)/float64(of), n, of)
}

// scrape reads the gateway's state from its /metrics. A failed read
// leaves the state "?".
func (r *demoReport) scrape() demoGauges {
	g := demoGauges{state: "?"}
	resp, err := r.client.Get(r.metrics)
	if err != nil {
		return g
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		series, value, ok := strings.Cut(sc.Text(), "} ")
		if !ok {
			continue
		}
		v, _ := strconv.ParseFloat(value, 64)
		name, labels, _ := strings.Cut(series, "{")
		switch policy, who := labelValue(labels, "policy"), labelValue(labels, "name"); {
		case policy == "adaptive" && who == "orders" && name == "levee_limit":
			g.limit = v
		case policy != "breaker" || who != "recommendations":
		case name == "levee_policy_state" && v == 1:
			g.state = labelValue(labels, "state")
		case name == "levee_state_transitions_total" && labelValue(labels, "to") == "open":
			g.opened += int(v)
		case name == "levee_state_transitions_total" && labelValue(labels, "to") == "closed":
			g.closed += int(v)
		case name == "levee_rejections_total":
			g.breakerRefusals += int(v)
		}
	}
	return g
}

// labelValue returns the value of the label named key in a series'
// exposition text.
func labelValue(series, key string) string {
	for {
		i := strings.Index(series, key+`="`)
		if i < 0 {
			return ""
		}
		if i == 0 || series[i-1] == ',' || series[i-1] == '{' {
			v, _, _ := strings.Cut(series[i+len(key)+2:], `"`)
			return v
		}
		series = series[i+len(key)+2:]
	}
}
