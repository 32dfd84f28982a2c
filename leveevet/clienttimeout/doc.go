// Package clienttimeout defines an Analyzer that reports HTTP clients whose
// requests can hang forever: http.Client literals without Timeout whose
// requests carry no deadline, and http.DefaultClient, http.Get, http.Head,
// http.Post and http.PostForm outside package main and tests. See [Doc].
package clienttimeout
