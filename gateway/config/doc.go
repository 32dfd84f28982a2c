// Package config reads and checks the gateway's configuration file.
//
// A configuration is one YAML document decoded strictly into [Config]: an
// unknown key, a value of the wrong shape, a missing required key or a
// reference to a name that does not exist is a [Problem], located by its
// YAML path and its line and column. [Parse] and [Load] report every problem
// at once, as [Problems], formatted like
//
//	routes[2].policies.retry.attempts: must be ≥ 1 (line 41:18)
//
// Every omitted field takes the default its doc comment states, so the
// [Config] they return is complete.
//
// Values are written in units: durations ("250ms", "30s", "28d"), rates
// ("100/s", "6000/m", "10/250ms", see [Rate]), sizes ("8MiB", "512KB", see
// [Size]) and percentages ("12.5%", see [Percent]). Environment variables
// are expanded only in secret fields ([Secret]); "${" anywhere else is a
// problem, so that a reference meant for expansion never goes out literally.
//
// The loader bounds what a file may cost: at most [MaxFileSize] bytes, and a
// bounded number of values once YAML aliases are expanded.
//
// levee.schema.json, beside this package, is a JSON Schema of the file for
// editors; docs/gateway-config.md at the repository's root is the reference.
// Both are generated from the types of this package by its tests (run them
// with -update after changing a type).
package config
