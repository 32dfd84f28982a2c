// Package flags provides runtime switches: boolean and multi-variant flags,
// rules on evaluation attributes, sticky percentage rollouts, progressive
// rollouts between two instants, and a kill switch.
package flags
