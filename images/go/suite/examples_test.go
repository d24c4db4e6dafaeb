package suite

import (
	"errors"
	"os"
	"reflect"
	"testing"

	"example.com/sdkcampaigns/sample/sdk"
)

var sampleFailures = os.Getenv("SDK_SAMPLE_FAILURES") == "on"

func TestBucketARN(t *testing.T) {
	if got := (sdk.Bucket{Name: "reports"}).ARN(); got != "arn:aws:s3:::reports" {
		t.Fatalf("bucket ARN: got %q, want %q", got, "arn:aws:s3:::reports")
	}
}

func TestBucketNameRules(t *testing.T) {
	if !sdk.ValidateBucketName("sdk-results") {
		t.Error(`"sdk-results" should be a valid bucket name`)
	}
	if sdk.ValidateBucketName("Upper") {
		t.Error(`"Upper" should not be a valid bucket name`)
	}
}

func TestPaginateSplitsPages(t *testing.T) {
	pages, err := sdk.Paginate([]int{0, 1, 2, 3, 4}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]int{{0, 1}, {2, 3}, {4}}; !reflect.DeepEqual(pages, want) {
		t.Fatalf("pages: got %v, want %v", pages, want)
	}
}

func TestPaginateRejectsZeroPageSize(t *testing.T) {
	if _, err := sdk.Paginate([]int{1}, 0); !errors.Is(err, sdk.ErrPageSize) {
		t.Fatalf("page size 0: got error %v, want %v", err, sdk.ErrPageSize)
	}
}

func TestRetryDelaysAreCapped(t *testing.T) {
	delays := sdk.RetryDelays(6)
	last := delays[len(delays)-1]
	if sampleFailures && last != 3.2 {
		// The demo's deliberate regression: the example expects no cap.
		t.Fatalf("retry delay example expects exponential growth without a cap: last delay %v, want 3.2", last)
	}
	if last != 2.0 {
		t.Fatalf("last delay: got %v, want 2.0", last)
	}
}

func TestListBucketsLive(t *testing.T) {
	t.Skip("needs real AWS credentials")
	t.Fatal("never runs")
}
