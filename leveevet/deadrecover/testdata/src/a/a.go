package a

import "log"

// Flagged.

func deferRecover() {
	defer recover() // want `defer recover\(\) stops no panic`
	panic("x")
}

func handlePanic() {
	if r := recover(); r != nil {
		log.Print(r)
	}
}

func helperInClosure() {
	defer func() { handlePanic() }() // want `handlePanic calls recover, but here it is called, not deferred`
	panic("x")
}

func helperInClosureWithMore() {
	defer func() {
		log.Print("cleanup")
		handlePanic() // want `handlePanic calls recover, but here it is called, not deferred`
	}()
	panic("x")
}

func helperCalledPlainly() {
	handlePanic() // want `handlePanic calls recover, but here it is called, not deferred`
}

func calledLiteral() {
	defer func() {
		func() {
			recover() // want `recover in a function literal that is called, not deferred`
		}()
	}()
}

func goRecover() {
	go func() {
		recover() // want `recover in a goroutine's own function`
	}()
}

// The seeds' mistake: the parent's recover cannot see the goroutine's panic.
func parentRecover(work func()) {
	defer func() {
		if r := recover(); r != nil {
			log.Print(r)
		}
	}()
	go func() { // want `the deferred recover in parentRecover does not cover this goroutine`
		work()
	}()
	go worker(work) // a named function reads as a separate task: not reported
}

func worker(work func()) { work() }

func parentRecoverHelper(work func()) {
	defer handlePanic()
	for range 3 {
		go func() { // want `the deferred recover in parentRecoverHelper does not cover this goroutine`
			work()
		}()
	}
}

// Clean.

func deferredLiteral() {
	defer func() {
		if r := recover(); r != nil {
			log.Print(r)
		}
	}()
	panic("x")
}

func deferredHelper() {
	defer handlePanic()
	panic("x")
}

type server struct{}

func (server) recoverPanic() { _ = recover() }

func deferredMethod(s server) {
	defer s.recoverPanic()
	panic("x")
}

func goroutineRecovers(work func()) {
	go func() {
		defer func() { recover() }()
		work()
	}()
}

func parentAndGoroutineRecover(work func()) {
	defer handlePanic()
	go func() {
		defer handlePanic()
		work()
	}()
	go safeWorker(work)
}

func safeWorker(work func()) {
	defer func() { _ = recover() }()
	work()
}

func goroutineWithoutParentRecover(work func()) {
	go func() { work() }() // no deferred recover in the parent: nothing to mistake
}

func storedLiteral() func() {
	f := func() { _ = recover() } // where f runs is out of sight
	defer f()
	return f
}

func nestedDeferInDeferred() {
	defer func() {
		defer func() { recover() }()
		panic("y")
	}()
}

func goFromOtherPackage(l *log.Logger) {
	defer handlePanic()
	go l.Print("x") // another package's function: its body is out of sight
}

func waitsOnly(done chan struct{}, cancel func()) {
	defer handlePanic()
	stop := make(chan struct{})
	go func() { // only waits and signals: nothing to recover
		<-done
		close(stop)
	}()
	<-stop
}
