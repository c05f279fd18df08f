package fl

// Observer is told when rounds start and end. Its methods are called from
// the goroutine running [Server.Run], so they must not block for long.
type Observer interface {
	RoundStart(round int, sampled []string)
	RoundEnd(stats RoundStats)
}

// ObserverFuncs adapts a pair of functions, either of which may be nil, to
// an [Observer].
type ObserverFuncs struct {
	Start func(round int, sampled []string)
	End   func(stats RoundStats)
}

// RoundStart calls o.Start if it is set.
func (o ObserverFuncs) RoundStart(round int, sampled []string) {
	if o.Start != nil {
		o.Start(round, sampled)
	}
}

// RoundEnd calls o.End if it is set.
func (o ObserverFuncs) RoundEnd(stats RoundStats) {
	if o.End != nil {
		o.End(stats)
	}
}
