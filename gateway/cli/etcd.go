package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/etcdsource"
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
// flags, from the key's current value.
func (f *etcdFlags) load(file string) (*config.Config, error) {
	if !f.set() {
		return config.Load(file, config.Options{})
	}
	c, err := f.config()
	if err != nil {
		return nil, err
	}
	return loadFromEtcd(context.Background(), c)
}

// loadFromEtcd reads the configuration once from the etcd key c names and
// checks it as [config.Load] checks a file; relative file names in it are
// read from the current directory.
func loadFromEtcd(ctx context.Context, c etcdsource.Config) (*config.Config, error) {
	c.Logger = slog.New(slog.DiscardHandler) // the caller reports the error
	src, err := etcdsource.New(c, func(context.Context, []byte, int64) error { return nil })
	if err != nil {
		return nil, err
	}
	raw, rev, err := src.Initial(ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Parse(raw, config.Options{})
	if err != nil {
		return nil, fmt.Errorf("revision %d: %w", rev, err)
	}
	return cfg, nil
}
