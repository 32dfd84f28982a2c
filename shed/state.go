package shed

// PolicyState returns the shedder's state with the labels of its events:
// policy "shed", its Name, and the lowest criticality its shed level admits
// ("SHEDDABLE" while no level is shed), the To its last
// [levee.EventStateChange] carried. observe.Metrics.Register reads it
// (observe.StateReporter) to export the state from registration on.
func (s *Shedder) PolicyState() (policy, name, state string) {
	return "shed", s.name, lowestAdmitted(s.level.Load())
}
