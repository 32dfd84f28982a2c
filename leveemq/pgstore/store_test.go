package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/levee-go/levee/leveemq"
	"github.com/levee-go/levee/leveemq/pgstore"
)

// newStore returns a store on a fresh table of the database test, dropped
// when the test ends; it skips (fails under CI) without PostgreSQL.
var seq atomic.Int64

func newStore(t *testing.T) (*pgstore.Store, *pgxpool.Pool, string) {
	t.Helper()
	var errs []string
	for _, u := range []string{
		"postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
		"postgres://root@127.0.0.1:5432/test?sslmode=disable",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		pool, err := pgxpool.New(ctx, u)
		if err == nil {
			err = pool.Ping(ctx)
		}
		cancel()
		if err != nil {
			if pool != nil {
				pool.Close()
			}
			errs = append(errs, err.Error())
			continue
		}
		table := fmt.Sprintf("leveemq_pgstore_%d_%d", os.Getpid(), seq.Add(1)) // under 63 bytes with a suffix
		s, err := pgstore.New(pgstore.Config{Pool: pool, Table: table})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateTable(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, _ = pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+table)
			pool.Close()
		})
		return s, pool, table
	}
	msg := strings.Join(errs, "; ")
	if os.Getenv("CI") != "" {
		t.Fatalf("PostgreSQL on 127.0.0.1:5432 (database test) is required under CI: %s", msg)
	}
	t.Skipf("PostgreSQL on 127.0.0.1:5432 (database test) not reachable (%s); start it to run this test", msg)
	return nil, nil, ""
}

func TestNewRefusesBadConfig(t *testing.T) {
	if _, err := pgstore.New(pgstore.Config{}); err == nil || !strings.Contains(err.Error(), "Pool") {
		t.Errorf("New without a pool = %v, want an error naming Pool", err)
	}
	pool, err := pgxpool.New(context.Background(), "postgres://127.0.0.1:1/none")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for _, bad := range []string{"drop table x;", "Dedup", "a.b.c", "1x"} {
		if _, err := pgstore.New(pgstore.Config{Pool: pool, Table: bad}); err == nil || !strings.Contains(err.Error(), "Table") {
			t.Errorf("New(Table: %q) = %v, want an error naming Table", bad, err)
		}
	}
}

func TestClaimLifecycle(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	if c, _, err := s.Begin(ctx, "a", time.Minute); err != nil || c != leveemq.Claimed {
		t.Fatalf("first Begin = %v, %v; want claimed", c, err)
	}
	c, left, err := s.Begin(ctx, "a", time.Minute)
	if err != nil || c != leveemq.Busy || left <= 0 || left > time.Minute {
		t.Fatalf("second Begin = %v, %v, %v; want busy with up to a minute left", c, left, err)
	}
	for want := 1; want <= 2; want++ {
		if n, err := s.Fail(ctx, "a"); err != nil || n != want {
			t.Fatalf("Fail = %d, %v; want %d", n, err, want)
		}
		if c, _, err := s.Begin(ctx, "a", time.Minute); err != nil || c != leveemq.Claimed {
			t.Fatalf("Begin after Fail = %v, %v; want claimed", c, err)
		}
	}
	if err := s.Release(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Fail(ctx, "a"); n != 3 {
		t.Errorf("Release reset the failure count: Fail = %d, want 3", n)
	}
	if err := s.Forget(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Fail(ctx, "a"); n != 1 {
		t.Errorf("after Forget, Fail = %d, want 1", n)
	}
	if err := s.Done(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if c, _, err := s.Begin(ctx, "a", time.Minute); err != nil || c != leveemq.AlreadyDone {
		t.Fatalf("Begin after Done = %v, %v; want already-done", c, err)
	}
	if c, _, err := s.Begin(ctx, "expired", time.Millisecond); err != nil || c != leveemq.Claimed {
		t.Fatalf("Begin = %v, %v; want claimed", c, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, _, err := s.Begin(ctx, "expired", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if c == leveemq.Claimed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a dead consumer's lease never expired")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The handler's writes commit with the done mark, once, however many
// deliveries race; a failing handler's writes roll back.
func TestHandlerCommitsEffectWithDoneMark(t *testing.T) {
	s, pool, table := newStore(t)
	ctx := context.Background()
	effects := table + "_effects"
	if _, err := pool.Exec(ctx, "CREATE TABLE "+effects+" (id text, n int)"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+effects) })
	boom := errors.New("boom")
	h := func(fail bool) leveemq.Handler {
		return s.Handler(func(ctx context.Context, m leveemq.Message, tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "INSERT INTO "+effects+" VALUES ($1, 1)", m.ID); err != nil {
				return err
			}
			if fail {
				return boom
			}
			return nil
		})
	}
	if err := h(true)(ctx, leveemq.Message{ID: "x"}); !errors.Is(err, boom) {
		t.Fatalf("failing handler = %v, want %v", err, boom)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() { errs <- h(false)(ctx, leveemq.Message{ID: "x"}) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+effects+" WHERE id = 'x'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("effect rows = %d after a failed and 8 racing deliveries, want 1", n)
	}
	if c, _, _ := s.Begin(ctx, "x", time.Minute); c != leveemq.AlreadyDone {
		t.Errorf("Begin after the handler = %v, want already-done", c)
	}
}
