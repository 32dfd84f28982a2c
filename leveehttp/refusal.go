package leveehttp

import "net/http"

// MarkRefused records on w that a Levee middleware is refusing the request,
// so that every leveehttp gate around it ([Gate], [Keyed], [Handler])
// records the request as ignored rather than as the handler's outcome. It
// finds the writer such a gate wrapped through every wrapper in between that
// has an Unwrap method (as http.ResponseController requires), and does
// nothing when there is none. Adapters for other routers (leveegin,
// leveeecho) call it before writing a refusal.
func MarkRefused(w http.ResponseWriter) { markRefused(w) }
