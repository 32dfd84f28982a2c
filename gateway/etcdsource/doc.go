// Package etcdsource keeps the gateway's configuration in one etcd key:
// it reads the key, watches it, and hands every new value, whole, to a
// function that validates and applies it (the same path a reload from the
// file takes).
//
// A [Source] tracks revisions: it delivers the key's value with the
// revision that wrote it, resumes its watch after the last revision it saw
// when the connection comes back (so a change made meanwhile is not
// missed), and reads the key afresh when that revision has been compacted
// away. A watch on a dead connection reports nothing, so a running source
// probes etcd every [Config.ProbeInterval] and reconnects, with backoff,
// when a probe fails.
//
// Nothing etcd does replaces a valid running configuration with a bad
// one: while etcd is unreachable the source keeps trying and the gateway
// keeps its configuration; a value the apply function refuses (it does
// not parse, or fails validation) is reported and skipped, and the next
// change is tried. [Source.Status] says which: connected or not, the
// revision last applied, the last error.
//
// The command's flags fill a [Config]:
//
//	levee serve --etcd-endpoints http://10.0.0.1:2379,http://10.0.0.2:2379 --etcd-key /levee/gateway.yaml
//
// with the credentials, when etcd requires them, in LEVEE_ETCD_USERNAME
// and LEVEE_ETCD_PASSWORD. docs/gateway-operations.md describes how to run
// it.
package etcdsource
