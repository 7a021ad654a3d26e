package bench

// The workloads this suite does not measure yet. Each reports a skipped
// row with its reason, so the report says what it does not cover instead
// of leaving it out. When the piece lands, its workload replaces the
// function here and keeps the name, so `isle bench --only NAME` stays the
// way to measure it.

// runFuel will compare compute kernels run by isle, with the fuel counter
// the module rewriter injects, against the same kernels under bare wazero
// with no instrumentation and under wazero's WithCloseOnContextDone.
func runFuel(h *harness, r *Report) error {
	r.Rows = append(r.Rows, skipped("fuel overhead on compute kernels",
		"not measured yet: this suite has no compute-kernel workload yet; it will run them with the fuel "+
			"isle's rewriter injects, beside uninstrumented wazero and wazero with WithCloseOnContextDone"))
	return nil
}
