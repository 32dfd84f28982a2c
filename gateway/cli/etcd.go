package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/etcdsource"
	"github.com/levee-go/levee/gateway/reload"
)

// etcdFlags are serve's flags for a configuration kept in etcd.
type etcdFlags struct {
	endpoints, key          string
	caFile, certFile, kfile string
	dialTimeout             time.Duration
}

// registerEtcdFlags adds serve's etcd flags to fs.
func registerEtcdFlags(fs *flag.FlagSet) *etcdFlags {
	f := &etcdFlags{}
	fs.StringVar(&f.endpoints, "etcd-endpoints", "", "read the configuration from etcd at these comma-separated client `URLs` (with -etcd-key, instead of -c); credentials from "+etcdsource.EnvUsername+" and "+etcdsource.EnvPassword)
	fs.StringVar(&f.key, "etcd-key", "", "the etcd `key` whose value is the YAML configuration")
	fs.DurationVar(&f.dialTimeout, "etcd-dial-timeout", etcdsource.DefaultDialTimeout, "how long to wait for a connection to etcd")
	fs.StringVar(&f.caFile, "etcd-ca-file", "", "verify etcd's certificate with this CA `file` (PEM)")
	fs.StringVar(&f.certFile, "etcd-cert-file", "", "the client certificate `file` (PEM) for etcd, with -etcd-key-file")
	fs.StringVar(&f.kfile, "etcd-key-file", "", "the client key `file` (PEM) for etcd, with -etcd-cert-file")
	return f
}

// set reports whether the configuration comes from etcd.
func (f *etcdFlags) set() bool { return f.endpoints != "" || f.key != "" }

// name is how problems in the configuration are attributed: the file, or
// the etcd key.
func (f *etcdFlags) name(file string) string {
	if f.set() {
		return "etcd:" + f.key
	}
	return file
}

// config is the source's configuration from the flags and the environment.
func (f *etcdFlags) config() (etcdsource.Config, error) {
	if f.endpoints == "" || f.key == "" {
		return etcdsource.Config{}, errors.New("-etcd-endpoints and -etcd-key go together")
	}
	var eps []string
	for e := range strings.SplitSeq(f.endpoints, ",") {
		if e = strings.TrimSpace(e); e != "" {
			eps = append(eps, e)
		}
	}
	return etcdsource.Config{
		Endpoints: eps, Key: f.key, DialTimeout: f.dialTimeout,
		Username: os.Getenv(etcdsource.EnvUsername), Password: os.Getenv(etcdsource.EnvPassword),
		CAFile: f.caFile, CertFile: f.certFile, KeyFile: f.kfile,
	}, nil
}

// load reads and checks the configuration: from file, or, with the etcd
// flags, from the key's current value. It returns the document with its
// decoded form, and with the etcd flags the source that read it, which
// [etcdFlags.follow] then runs.
func (f *etcdFlags) load(file string, log *slog.Logger) (*config.Config, []byte, *etcdSource, error) {
	if !f.set() {
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, nil, nil, err
		}
		cfg, err := config.Parse(raw, config.Options{Dir: filepath.Dir(file)})
		return cfg, raw, nil, err
	}
	c, err := f.config()
	if err != nil {
		return nil, nil, nil, err
	}
	return loadFromEtcd(context.Background(), c, log)
}

// etcdSource applies every change of the etcd key to the running
// gateway through its reload controller, once the gateway serves.
type etcdSource struct {
	src *etcdsource.Source
	ctl atomic.Pointer[reload.Controller]
}

// apply hands one value of the key to the reload path: decode, validate,
// build beside, swap. A value refused there is reported by the source and
// leaves the running configuration serving.
func (e *etcdSource) apply(ctx context.Context, raw []byte, rev int64) error {
	ctl := e.ctl.Load()
	if ctl == nil {
		return errors.New("the gateway is not serving yet")
	}
	_, err := ctl.Apply(ctx, raw, reload.ApplyOptions{Source: reload.SourceEtcd})
	return err
}

// follow returns the hook that starts following the key once the gateway
// serves, until ctx ends; nil when the configuration is not in etcd.
func (e *etcdSource) follow(ctx context.Context) func(*reload.Controller) {
	if e == nil {
		return nil
	}
	return func(ctl *reload.Controller) {
		e.ctl.Store(ctl)
		go e.src.Run(ctx) // returns when ctx ends
	}
}

// loadFromEtcd reads the configuration once from the etcd key c names and
// checks it as [config.Load] checks a file; relative file names in it are
// read from the current directory.
func loadFromEtcd(ctx context.Context, c etcdsource.Config, log *slog.Logger) (*config.Config, []byte, *etcdSource, error) {
	c.Logger = log
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler) // the caller reports the error
	}
	e := &etcdSource{}
	src, err := etcdsource.New(c, e.apply)
	if err != nil {
		return nil, nil, nil, err
	}
	e.src = src
	raw, rev, err := src.Initial(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	cfg, err := config.Parse(raw, config.Options{})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("revision %d: %w", rev, err)
	}
	return cfg, raw, e, nil
}
