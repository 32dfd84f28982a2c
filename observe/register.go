package observe

import (
	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/lifecycle"
)

// Observable is a policy that reports events: every Levee policy, the
// pipeline, health and lifecycle.
type Observable interface {
	OnEvent(fn levee.Listener) (remove func())
}

// StateReporter is a policy that can say which state it is in now, with
// the Policy and Name labels its state-change events carry and the state's
// name as their To would give it. [Metrics.Register] reads it so that a
// policy outside Levee is exported from the moment it is registered too.
type StateReporter interface {
	PolicyState() (policy, name, state string)
}

// Register adds m's listener to p, as p.OnEvent(m.Listener()) does, and
// exports p's current state at once as levee_policy_state, so a policy that
// has never changed state (a healthy breaker, closed since it was built) is
// visible to dashboards and alerts from the start rather than from its first
// transition. The state is read from a [breaker.Breaker] (State), a
// [lifecycle.Lifecycle] (Stage) or any [StateReporter]; other policies have
// no state and are only listened to. The returned function removes the
// listener. A nil p is ignored.
func (m *Metrics) Register(p Observable) (remove func()) {
	if p == nil {
		return func() {}
	}
	remove = p.OnEvent(m.Listener())
	// Read the state after listening: a transition racing with Register is
	// then either already seen by the listener (and the state read here is
	// dropped as stale) or reported after this read.
	switch p := p.(type) {
	case *breaker.Breaker:
		if p != nil {
			m.initState("breaker", p.Name(), p.State().String())
		}
	case *lifecycle.Lifecycle:
		if p != nil {
			m.initState("lifecycle", p.Name(), p.Stage().String())
		}
	case StateReporter:
		m.initState(p.PolicyState())
	}
	return remove
}

// initState exports state as the current state of (policy, name) unless an
// event has already reported one, which is newer.
func (m *Metrics) initState(policy, name, state string) {
	if !m.made() {
		return
	}
	key := [2]string{policy, name}
	state = label(state)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, seen := m.states[key]; seen {
		return
	}
	m.states[key] = state
	m.state.WithLabelValues(policy, name, state).Set(1)
}
