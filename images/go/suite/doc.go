// Package suite is the sample SDK-example suite: passing, skipped and (when
// SDK_SAMPLE_FAILURES=on) failing tests. The tests live in examples_test.go.
package suite
