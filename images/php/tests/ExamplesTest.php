<?php

declare(strict_types=1);

// Sample SDK-example suite: passing, skipped and (when SDK_SAMPLE_FAILURES=on) failing tests.

use PHPUnit\Framework\TestCase;

use function SampleSdk\paginate;
use function SampleSdk\retry_delays;
use function SampleSdk\validate_bucket_name;

require_once __DIR__ . '/../src/SampleSdk.php';

final class ExamplesTest extends TestCase
{
    public function testBuildsABucketArn(): void
    {
        $this->assertSame('arn:aws:s3:::reports', (new SampleSdk\Bucket('reports'))->arn());
    }

    public function testChecksBucketNameRules(): void
    {
        $this->assertTrue(validate_bucket_name('sdk-results'));
        $this->assertFalse(validate_bucket_name('Upper'));
    }

    public function testSplitsPages(): void
    {
        $this->assertSame([[0, 1], [2, 3], [4]], paginate([0, 1, 2, 3, 4], 2));
    }

    public function testRejectsAZeroPageSize(): void
    {
        $this->expectException(InvalidArgumentException::class);
        paginate([1], 0);
    }

    public function testCapsRetryDelays(): void
    {
        $delays = retry_delays(6);
        if (getenv('SDK_SAMPLE_FAILURES') === 'on') {
            // The demo's deliberate regression: the example expects no cap.
            $this->assertSame(3.2, end($delays), 'retry delay example expects exponential growth without a cap');
        }
        $this->assertSame(2.0, end($delays));
    }

    public function testListsBucketsAgainstLiveAws(): void
    {
        $this->markTestSkipped('needs real AWS credentials');
    }
}
