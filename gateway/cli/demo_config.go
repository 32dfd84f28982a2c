package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// badDemoConfig is the demo's configuration with /catalog sent to
// catalog_v2, the new version that fails every request: a change that
// validates and applies cleanly, and then hurts the service.
func badDemoConfig(doc string) string {
	return strings.Replace(doc, "  - name: catalog\n    upstream: catalog\n", "  - name: catalog\n    upstream: catalog_v2\n", 1)
}

// applyBad applies the bad configuration through the admin API, as an
// operator would (GET for the ETag, PUT with If-Match), and says what
// happened.
func (g *demoGateway) applyBad() string {
	client := &http.Client{Timeout: 10 * time.Second}
	base := "http://" + g.admin + "/api/v1/config"
	resp, err := client.Get(base)
	if err != nil {
		return "GET /api/v1/config: " + err.Error()
	}
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodPut, base, strings.NewReader(badDemoConfig(g.doc)))
	req.Header.Set("If-Match", resp.Header.Get("ETag"))
	req.Header.Set("Content-Type", "application/yaml")
	resp, err = client.Do(req)
	if err != nil {
		return "PUT /api/v1/config: " + err.Error()
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		var rep struct {
			Version int `json:"version"`
		}
		json.Unmarshal(body, &rep)
		return fmt.Sprintf("PUT /api/v1/config: version %d applied (/catalog → catalog_v2); the self-check watches it", rep.Version)
	case http.StatusConflict:
		return "PUT /api/v1/config: refused, 409: this configuration was rolled back before and is marked bad"
	}
	return fmt.Sprintf("PUT /api/v1/config: %d %s", resp.StatusCode, strings.TrimSpace(string(body)))
}

// reloadOutcome reads the last reload's state from the admin API: whether
// the self-check rolled it back, and a line saying so.
func (g *demoGateway) reloadOutcome() (rolledBack bool, line string) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + g.admin + "/api/v1/reload")
	if err != nil {
		return false, "GET /api/v1/reload: " + err.Error()
	}
	defer resp.Body.Close()
	var st struct {
		State     string `json:"state"`
		Version   int    `json:"version"`
		SelfCheck *struct {
			State  string `json:"state"`
			Reason string `json:"reason"`
		} `json:"self_check"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return false, "GET /api/v1/reload: " + err.Error()
	}
	line = fmt.Sprintf("reload: %s, running version %d", st.State, st.Version)
	if sc := st.SelfCheck; sc != nil {
		line += ", self-check " + sc.State
		if sc.Reason != "" {
			line += ": " + sc.Reason
		}
	}
	return st.State == "rolled_back" || st.SelfCheck != nil && st.SelfCheck.State == "failed", line
}
