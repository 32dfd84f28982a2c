package etcdsource_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/levee-go/levee/gateway/etcdsource"
	"github.com/levee-go/levee/gateway/etcdsource/etcdtest"
)

const key = "/levee/gateway.yaml"

// logBuffer collects a source's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// run starts a source on e with apply and stops it when the test ends.
func run(t *testing.T, e *etcdtest.Server, a *applied) (*etcdsource.Source, func()) {
	s, stop, _ := runLogged(t, e, a)
	return s, stop
}

// runLogged is run, and returns the source's log too.
func runLogged(t *testing.T, e *etcdtest.Server, a *applied) (*etcdsource.Source, func(), *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	s, err := etcdsource.New(etcdsource.Config{
		Endpoints:      []string{e.URL},
		Key:            key,
		DialTimeout:    time.Second,
		RequestTimeout: 500 * time.Millisecond,
		ProbeInterval:  100 * time.Millisecond,
		Backoff:        func(int) time.Duration { return 50 * time.Millisecond },
		Logger:         slog.New(slog.NewTextHandler(logs, nil)),
	}, a.apply)
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("source log:\n%s", logs)
		}
	})
	return s, start(t, s), logs
}

// start runs s until the returned function (also run at cleanup) stops it.
func start(t *testing.T, s *etcdsource.Source) func() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.Run(ctx); err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	})
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

func TestInitialValueAndChangeDeliveredOnce(t *testing.T) {
	e := etcdtest.Start(t)
	rev1 := e.Put(key, "version: 1\n")
	a := &applied{}
	s, _ := run(t, e, a)
	waitFor(t, "the initial value", func() bool { return s.Status().Revision == rev1 })
	if st := s.Status(); !st.Connected || st.Applied != 1 || st.LastError != nil {
		t.Errorf("Status() after the initial value = %+v, want connected, 1 applied, no error", st)
	}
	e.Put("/other/key", "unrelated")
	rev2 := e.Put(key, "version: 2\n")
	waitFor(t, "the change", func() bool { return s.Status().Revision == rev2 })
	// Give a duplicate delivery the time to show.
	e.Put("/other/key", "later")
	time.Sleep(300 * time.Millisecond)
	values, revs := a.snapshot()
	if !slices.Equal(values, []string{"version: 1\n", "version: 2\n"}) || !slices.Equal(revs, []int64{rev1, rev2}) {
		t.Errorf("apply calls = %q at revisions %v, want each value once: [version: 1 version: 2] at [%d %d]", values, revs, rev1, rev2)
	}
}

func TestBadValueReportedThenGoodApplied(t *testing.T) {
	e := etcdtest.Start(t)
	good1 := e.Put(key, "good 1")
	a := &applied{refuse: func(raw string) error {
		if strings.HasPrefix(raw, "bad") {
			return errors.New("routes[0].upstream: unknown upstream")
		}
		return nil
	}}
	s, _ := run(t, e, a)
	waitFor(t, "the first good value", func() bool { return s.Status().Revision == good1 })
	bad := e.Put(key, "bad value")
	waitFor(t, "the bad value refused", func() bool { return s.Status().Refused == 1 })
	st := s.Status()
	if st.Revision != good1 || st.Seen < bad || st.LastError == nil || !strings.Contains(st.LastError.Error(), "unknown upstream") || !st.Connected {
		t.Errorf("Status() after a refused value = %+v, want revision %d kept, seen >= %d, the refusal as last error, connected", st, good1, bad)
	}
	good2 := e.Put(key, "good 2")
	waitFor(t, "the next good value", func() bool { return s.Status().Revision == good2 })
	if st := s.Status(); st.LastError != nil || st.Applied != 2 {
		t.Errorf("Status() after a good value = %+v, want no error and 2 applied", st)
	}
}

func TestMissingKeyThenCreated(t *testing.T) {
	e := etcdtest.Start(t)
	a := &applied{}
	s, _ := run(t, e, a)
	waitFor(t, "the missing key reported", func() bool { return s.Status().LastError != nil })
	if st := s.Status(); !st.Connected || !strings.Contains(st.LastError.Error(), "not found") {
		t.Errorf("Status() with no key = %+v, want connected and a not-found error", st)
	}
	rev := e.Put(key, "created")
	waitFor(t, "the created key", func() bool { return s.Status().Revision == rev })
}

// TestEtcdStoppedAndRestarted stops etcd under a running source: the
// source must say it is disconnected, deliver nothing meanwhile, and once
// etcd is back deliver what was written.
func TestEtcdStoppedAndRestarted(t *testing.T) {
	e := etcdtest.Start(t)
	rev1 := e.Put(key, "before")
	a := &applied{}
	s, _ := run(t, e, a)
	waitFor(t, "the initial value", func() bool { return s.Status().Revision == rev1 })

	e.Stop()
	waitFor(t, "the source to notice", func() bool { return !s.Status().Connected })
	if st := s.Status(); st.LastError == nil || st.Revision != rev1 {
		t.Errorf("Status() with etcd down = %+v, want an error and revision %d kept", st, rev1)
	}
	time.Sleep(300 * time.Millisecond) // a few failed reconnections
	if values, _ := a.snapshot(); len(values) != 1 {
		t.Errorf("apply calls while etcd was down: %q, want only the first value", values)
	}

	e.Restart()
	rev2 := e.Put(key, "after")
	waitFor(t, "the value written after the restart", func() bool { return s.Status().Revision == rev2 })
	if st := s.Status(); !st.Connected || st.LastError != nil {
		t.Errorf("Status() after reconnecting = %+v, want connected, no error", st)
	}
	values, _ := a.snapshot()
	if !slices.Equal(values, []string{"before", "after"}) {
		t.Errorf("apply calls = %q, want [before after], each whole and once", values)
	}
}

// TestResumeAfterCompaction stops a source, writes two values and compacts
// the store past the revision it saw: run again, it must read the key
// afresh and deliver the latest value only.
func TestResumeAfterCompaction(t *testing.T) {
	e := etcdtest.Start(t)
	rev1 := e.Put(key, "one")
	a := &applied{}
	s, stop, logs := runLogged(t, e, a)
	waitFor(t, "the initial value", func() bool { return s.Status().Revision == rev1 })
	stop()

	e.Put(key, "two")
	rev3 := e.Put(key, "three")
	e.Put("/other/key", "x")
	e.Compact()

	start(t, s)
	waitFor(t, "the latest value after compaction", func() bool { return s.Status().Revision == rev3 })
	values, _ := a.snapshot()
	if !slices.Equal(values, []string{"one", "three"}) {
		t.Errorf("apply calls = %q, want [one three]: the latest value, read afresh", values)
	}
	if !strings.Contains(logs.String(), "compacted") {
		t.Errorf("log = %q, want the compaction reported", logs.String())
	}
}

// TestResumeFromLastSeen stops a source and writes two values: run again
// (the history intact), it resumes its watch after the revision it saw and
// delivers the latest.
func TestResumeFromLastSeen(t *testing.T) {
	e := etcdtest.Start(t)
	rev1 := e.Put(key, "one")
	a := &applied{}
	s, stop := run(t, e, a)
	waitFor(t, "the initial value", func() bool { return s.Status().Revision == rev1 })
	stop()
	e.Put(key, "two")
	rev3 := e.Put(key, "three")
	start(t, s)
	waitFor(t, "the values written while stopped", func() bool { return s.Status().Revision == rev3 })
	values, _ := a.snapshot()
	if values[0] != "one" || values[len(values)-1] != "three" || slices.Contains(values[1:], "one") {
		t.Errorf("apply calls = %q, want one, then the changes made while stopped ending with three, none twice", values)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	apply := func(context.Context, []byte, int64) error { return nil }
	for _, tt := range []struct {
		cfg   etcdsource.Config
		field string
	}{
		{etcdsource.Config{Key: "k"}, "Endpoints"},
		{etcdsource.Config{Endpoints: []string{"x"}}, "Key"},
		{etcdsource.Config{Endpoints: []string{""}, Key: "k"}, "Endpoints[0]"},
		{etcdsource.Config{Endpoints: []string{"x"}, Key: "k", DialTimeout: -1}, "DialTimeout"},
		{etcdsource.Config{Endpoints: []string{"x"}, Key: "k", ProbeInterval: -1}, "ProbeInterval"},
		{etcdsource.Config{Endpoints: []string{"x"}, Key: "k", Password: "p"}, "Username"},
		{etcdsource.Config{Endpoints: []string{"x"}, Key: "k", CertFile: "c.pem"}, "KeyFile"},
		{etcdsource.Config{Endpoints: []string{"x"}, Key: "k", CAFile: "/nonexistent/ca.pem"}, "CAFile"},
	} {
		if _, err := etcdsource.New(tt.cfg, apply); err == nil || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("New(%+v) = %v, want an error naming %s", tt.cfg, err, tt.field)
		}
	}
}

// TestInitialThenRun reads the configuration once, as the command does
// before it serves, then runs: only later changes are delivered.
func TestInitialThenRun(t *testing.T) {
	e := etcdtest.Start(t)
	a := &applied{}
	s, err := etcdsource.New(etcdsource.Config{Endpoints: []string{e.URL}, Key: key,
		DialTimeout: time.Second, RequestTimeout: 500 * time.Millisecond, ProbeInterval: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logBuffer{}, nil))}, a.apply)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Initial(context.Background()); !errors.Is(err, etcdsource.ErrNotFound) {
		t.Fatalf("Initial() with no key = %v, want ErrNotFound", err)
	}
	rev1 := e.Put(key, "first")
	raw, rev, err := s.Initial(context.Background())
	if err != nil || string(raw) != "first" || rev != rev1 {
		t.Fatalf("Initial() = %q, %d, %v; want \"first\", %d, nil", raw, rev, err, rev1)
	}
	start(t, s)
	rev2 := e.Put(key, "second")
	waitFor(t, "the change after Initial", func() bool { return s.Status().Revision == rev2 })
	if values, _ := a.snapshot(); !slices.Equal(values, []string{"second"}) {
		t.Errorf("apply calls after Initial = %q, want only [second]", values)
	}
}
