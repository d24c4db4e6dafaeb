<?php

declare(strict_types=1);

// A tiny stand-in SDK: the sample suite exercises it like an SDK's code examples would.

namespace SampleSdk;

final class Bucket
{
    public function __construct(public readonly string $name, public readonly string $region = 'us-east-1')
    {
    }

    public function arn(): string
    {
        return "arn:aws:s3:::{$this->name}";
    }
}

function validate_bucket_name(string $name): bool
{
    $length = strlen($name);
    return $length >= 3 && $length <= 63 && $name === strtolower($name) && !str_starts_with($name, '-');
}

function paginate(array $items, int $pageSize): array
{
    if ($pageSize < 1) {
        throw new \InvalidArgumentException('pageSize must be at least 1');
    }
    return array_chunk($items, $pageSize);
}

/** @return float[] */
function retry_delays(int $attempts, float $base = 0.1, float $cap = 2.0): array
{
    $delays = [];
    for ($attempt = 0; $attempt < $attempts; $attempt++) {
        $delays[] = min($cap, $base * 2 ** $attempt);
    }
    return $delays;
}
