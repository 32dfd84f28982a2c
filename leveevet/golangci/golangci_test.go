package golangci_test

import (
	"strings"
	"testing"

	"github.com/golangci/plugin-module-register/register"

	_ "github.com/levee-go/levee/leveevet/golangci"
)

func TestPlugin(t *testing.T) {
	newPlugin, err := register.GetPlugin("leveevet")
	if err != nil {
		t.Fatalf("GetPlugin(leveevet) = %v: importing the package must register it", err)
	}
	tests := []struct {
		name    string
		conf    any
		want    []string
		wantErr string
	}{
		{"nil settings run all", nil, []string{"clienttimeout", "deadrecover", "handlergo", "lostpermit", "nextcall", "perrequest"}, ""},
		{"empty settings run all", map[string]any{}, []string{"clienttimeout", "deadrecover", "handlergo", "lostpermit", "nextcall", "perrequest"}, ""},
		{"disable one", map[string]any{"disable": []string{"clienttimeout"}}, []string{"deadrecover", "handlergo", "lostpermit", "nextcall", "perrequest"}, ""},
		{"unknown analyzer", map[string]any{"disable": []string{"nope"}}, nil, `unknown analyzer "nope"`},
		{"unknown field", map[string]any{"enable": []string{"nextcall"}}, nil, "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := newPlugin(tt.conf)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New(%v) error = %v, want one containing %q", tt.conf, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%v) = %v", tt.conf, err)
			}
			if p.GetLoadMode() != register.LoadModeTypesInfo {
				t.Errorf("GetLoadMode() = %q, want %q", p.GetLoadMode(), register.LoadModeTypesInfo)
			}
			as, _ := p.BuildAnalyzers()
			var got []string
			for _, a := range as {
				got = append(got, a.Name)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("BuildAnalyzers() = %v, want %v", got, tt.want)
			}
		})
	}
}
