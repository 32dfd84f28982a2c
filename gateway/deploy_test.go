// Package gateway_test checks the Kubernetes manifests in deploy/kubernetes
// against the gateway they run.
package gateway_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/levee-go/levee/gateway/cli"
	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/health"
	"github.com/levee-go/levee/lifecycle"
)

// The parts of Kubernetes objects the checks read.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Template struct {
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
		Ports []struct {
			Name       string    `yaml:"name"`
			TargetPort yaml.Node `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type podSpec struct {
	TerminationGracePeriodSeconds *int        `yaml:"terminationGracePeriodSeconds"`
	InitContainers                []container `yaml:"initContainers"`
	Containers                    []container `yaml:"containers"`
	Volumes                       []struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
	} `yaml:"volumes"`
}

type container struct {
	Name          string   `yaml:"name"`
	Args          []string `yaml:"args"`
	RestartPolicy string   `yaml:"restartPolicy"`
	Ports         []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	StartupProbe   *probe `yaml:"startupProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	Lifecycle      *struct {
		PreStop *struct {
			Sleep *struct {
				Seconds int `yaml:"seconds"`
			} `yaml:"sleep"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct {
		Path string    `yaml:"path"`
		Port yaml.Node `yaml:"port"`
	} `yaml:"httpGet"`
}

// port resolves a port given by name or number among c's ports.
func (c container) port(n yaml.Node) int {
	if p, err := strconv.Atoi(n.Value); err == nil {
		return p
	}
	for _, p := range c.Ports {
		if p.Name == n.Value {
			return p.ContainerPort
		}
	}
	return 0
}

func (c container) preStopSleep() int {
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		return 0
	}
	return c.Lifecycle.PreStop.Sleep.Seconds
}

func readObjects(t *testing.T, file string) []object {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var objs []object
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		objs = append(objs, o)
	}
}

// portOf returns the port of a host:port address.
func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestKubernetesManifests parses every manifest in deploy/kubernetes and
// checks it against the gateway: the embedded configuration validates;
// the levee container (a native sidecar in sidecar.yaml) runs serve with
// flags the command accepts, a shutdown budget the lifecycle accepts and
// a terminationGracePeriodSeconds that covers every preStop sleep and that
// budget; its probes ask the health handler's paths on the admin port,
// which is the gateway's default admin port and the configuration's; and
// the Service reaches the configured listener.
func TestKubernetesManifests(t *testing.T) {
	files, err := filepath.Glob("../deploy/kubernetes/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("manifests in deploy/kubernetes: %v %v, want sidecar.yaml and edge.yaml", files, err)
	}
	defaults, err := config.Parse([]byte("listeners: [{name: p, address: \"127.0.0.1:1\"}]"), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defaultAdmin := portOf(t, defaults.Admin.Address)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			objs := readObjects(t, file)
			cfg, cmName := manifestConfig(t, objs)
			var pod *podSpec
			for i := range objs {
				if objs[i].Kind == "Deployment" {
					pod = &objs[i].Spec.Template.Spec
				}
			}
			if pod == nil {
				t.Fatal("no Deployment")
			}
			levee, sidecar := leveeContainer(t, pod)
			if filepath.Base(file) == "sidecar.yaml" && !sidecar {
				t.Error("the levee container is not a native sidecar (an init container with restartPolicy: Always)")
			}
			checkArgs(t, levee, pod, cmName)
			checkProbes(t, levee, cfg, defaultAdmin)
			checkService(t, objs, levee, cfg)
		})
	}
}

// manifestConfig returns the ConfigMap's levee.yaml, parsed and checked,
// and the ConfigMap's name.
func manifestConfig(t *testing.T, objs []object) (*config.Config, string) {
	t.Helper()
	for _, o := range objs {
		if text, ok := o.Data["levee.yaml"]; o.Kind == "ConfigMap" && ok {
			// Secrets come from the pod's environment: any value will do.
			cfg, err := config.Parse([]byte(text), config.Options{LookupEnv: func(string) (string, bool) { return "x", true }})
			if err != nil {
				t.Fatalf("ConfigMap %s: levee.yaml does not validate: %v", o.Metadata.Name, err)
			}
			return cfg, o.Metadata.Name
		}
	}
	t.Fatal("no ConfigMap with levee.yaml")
	return nil, ""
}

// leveeContainer returns the container named levee, and whether it is a
// native sidecar.
func leveeContainer(t *testing.T, pod *podSpec) (container, bool) {
	t.Helper()
	for _, c := range pod.InitContainers {
		if c.Name == "levee" {
			return c, c.RestartPolicy == "Always"
		}
	}
	for _, c := range pod.Containers {
		if c.Name == "levee" {
			return c, false
		}
	}
	t.Fatal("no container named levee")
	return container{}, false
}

// checkArgs checks that levee serves the mounted ConfigMap with flags the
// command accepts, and that the pod's grace period covers the shutdown.
func checkArgs(t *testing.T, c container, pod *podSpec, cmName string) {
	t.Helper()
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Fatalf("levee args = %q, want serve first", c.Args)
	}
	file := flagValue(c.Args, "c")
	grace, drain := lifecycle.DefaultGracePeriod, time.Duration(0)
	for name, d := range map[string]*time.Duration{"grace-period": &grace, "drain-delay": &drain} {
		if v := flagValue(c.Args, name); v != "" {
			var err error
			if *d, err = time.ParseDuration(v); err != nil {
				t.Errorf("levee -%s %s: %v", name, v, err)
			}
		}
	}
	// The command itself accepts the flags: with a missing file it gets
	// as far as reading it.
	args := append([]string(nil), c.Args...)
	for i := range args {
		if args[i] == "-c" && i+1 < len(args) {
			args[i+1] = filepath.Join(t.TempDir(), "missing.yaml")
		}
	}
	var stderr bytes.Buffer
	if code := cli.Run(args, io.Discard, &stderr); code != cli.ExitInvalid || !strings.Contains(stderr.String(), "no such file") {
		first, _, _ := strings.Cut(stderr.String(), "\n")
		t.Errorf("levee %q = %d, %q; want the flags accepted", args, code, first)
	}
	mounted := false
	for _, v := range pod.Volumes {
		for _, m := range c.VolumeMounts {
			if v.ConfigMap != nil && v.ConfigMap.Name == cmName && m.Name == v.Name && filepath.Dir(file) == m.MountPath {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Errorf("-c %q is not in the ConfigMap %s's mount", file, cmName)
	}
	if _, err := lifecycle.New(lifecycle.Config{GracePeriod: grace, DrainDelay: drain, Signals: []os.Signal{}}); err != nil {
		t.Errorf("the shutdown budget: %v", err)
	}
	if pod.TerminationGracePeriodSeconds == nil {
		t.Fatal("no terminationGracePeriodSeconds")
	}
	need := grace
	for _, cs := range [][]container{pod.InitContainers, pod.Containers} {
		for _, c := range cs {
			need += time.Duration(c.preStopSleep()) * time.Second
		}
	}
	if have := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second; have < need {
		t.Errorf("terminationGracePeriodSeconds = %v, want at least %v (-grace-period and every preStop sleep)", have, need)
	}
	if c.preStopSleep() == 0 {
		t.Error("levee has no preStop sleep")
	}
}

// flagValue returns the value of the flag named name in args ("-name v",
// "-name=v", or with two dashes), or "".
func flagValue(args []string, name string) string {
	for i, a := range args {
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// checkProbes checks that the probes ask the paths the health handler
// serves, on the admin port of the configuration, which is the default.
func checkProbes(t *testing.T, c container, cfg *config.Config, defaultAdmin int) {
	t.Helper()
	admin := portOf(t, cfg.Admin.Address)
	if admin != defaultAdmin {
		t.Errorf("admin.address %s: port %d, want the default %d", cfg.Admin.Address, admin, defaultAdmin)
	}
	h, err := health.New(health.Config{Name: "levee"})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, p := range []struct {
		kind string
		p    *probe
		path string
	}{{"startupProbe", c.StartupProbe, "/startupz"}, {"livenessProbe", c.LivenessProbe, "/livez"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}} {
		if p.p == nil || p.p.HTTPGet == nil {
			t.Errorf("levee has no %s httpGet", p.kind)
			continue
		}
		g := p.p.HTTPGet
		if g.Path != p.path {
			t.Errorf("%s path = %q, want %q", p.kind, g.Path, p.path)
		}
		if port := c.port(g.Port); port != admin {
			t.Errorf("%s port = %q (%d), want the admin port %d", p.kind, g.Port.Value, port, admin)
		}
		resp, err := http.Get(srv.URL + g.Path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s path %s: the health handler answers %d, want 200", p.kind, g.Path, resp.StatusCode)
		}
	}
}

// checkService checks that the Service's target port is the listener's.
func checkService(t *testing.T, objs []object, c container, cfg *config.Config) {
	t.Helper()
	listener := portOf(t, cfg.Listeners[0].Address)
	for _, o := range objs {
		if o.Kind != "Service" {
			continue
		}
		for _, p := range o.Spec.Ports {
			if got := c.port(p.TargetPort); got != listener {
				t.Errorf("Service %s port %s targets %d, want the listener's port %d", o.Metadata.Name, p.Name, got, listener)
			}
		}
		return
	}
	t.Error("no Service")
}
