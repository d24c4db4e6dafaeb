// Package sdk is a tiny stand-in SDK: the sample suite exercises it like an SDK's code
// examples would.
package sdk

import (
	"errors"
	"math"
	"strings"
)

// Bucket is an S3 bucket in a region.
type Bucket struct {
	Name   string
	Region string
}

// ARN is the bucket's Amazon Resource Name.
func (b Bucket) ARN() string {
	return "arn:aws:s3:::" + b.Name
}

// ValidateBucketName reports whether name follows the (simplified) bucket naming rules.
func ValidateBucketName(name string) bool {
	return len(name) >= 3 && len(name) <= 63 && name == strings.ToLower(name) && !strings.HasPrefix(name, "-")
}

// ErrPageSize is returned by Paginate for a page size below 1.
var ErrPageSize = errors.New("page size must be at least 1")

// Paginate splits items into pages of at most pageSize items.
func Paginate[T any](items []T, pageSize int) ([][]T, error) {
	if pageSize < 1 {
		return nil, ErrPageSize
	}
	pages := [][]T{}
	for start := 0; start < len(items); start += pageSize {
		end := start + pageSize
		if end > len(items) {
			end = len(items)
		}
		pages = append(pages, items[start:end])
	}
	return pages, nil
}

// RetryDelays are the exponential back-off delays (seconds) for attempts, capped at 2.0
// with a base of 0.1.
func RetryDelays(attempts int) []float64 {
	const base, limit = 0.1, 2.0
	delays := make([]float64, attempts)
	for attempt := range delays {
		delays[attempt] = math.Min(limit, base*math.Pow(2, float64(attempt)))
	}
	return delays
}
