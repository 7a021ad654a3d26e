package bench

// The workloads whose isle side does not exist yet. Each reports a skipped
// row with its reason, so the report says what it does not cover instead
// of leaving it out. When the piece lands, its workload replaces the
// function here and keeps the name, so `isle bench --only NAME` stays the
// way to measure it.

// runFuel will compare compute kernels run by isle, with the fuel counter
// the module rewriter injects, against the same kernels under bare wazero
// with no instrumentation and under wazero's WithCloseOnContextDone.
func runFuel(h *harness, r *Report) error {
	r.Rows = append(r.Rows, skipped("fuel overhead on compute kernels",
		"not measured yet: the compute-kernel fixtures are still to be written; isle runs them with the fuel "+
			"its rewriter injects, the peers will be uninstrumented wazero and wazero with WithCloseOnContextDone"))
	return nil
}

// runIngress will measure isle's key-value and HTTP ingress services
// against a plain Go server doing the same work.
func runIngress(h *harness, r *Report) error {
	r.Rows = append(r.Rows,
		skipped("key-value operations", "not measured yet: isle has no key-value service yet"),
		skipped("HTTP ingress", "not measured yet: isle has no HTTP ingress yet"))
	return nil
}
