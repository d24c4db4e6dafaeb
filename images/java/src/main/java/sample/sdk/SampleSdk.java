package sample.sdk;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** A tiny stand-in SDK: the sample suite exercises it like an SDK's code examples would. */
public final class SampleSdk {
    private SampleSdk() {}

    public record Bucket(String name, String region) {
        public Bucket(String name) {
            this(name, "us-east-1");
        }

        public String arn() {
            return "arn:aws:s3:::" + name;
        }
    }

    public static boolean validateBucketName(String name) {
        return name.length() >= 3
                && name.length() <= 63
                && name.equals(name.toLowerCase(Locale.ROOT))
                && !name.startsWith("-");
    }

    public static <T> List<List<T>> paginate(List<T> items, int pageSize) {
        if (pageSize < 1) {
            throw new IllegalArgumentException("pageSize must be at least 1");
        }
        List<List<T>> pages = new ArrayList<>();
        for (int i = 0; i < items.size(); i += pageSize) {
            pages.add(List.copyOf(items.subList(i, Math.min(items.size(), i + pageSize))));
        }
        return pages;
    }

    public static List<Double> retryDelays(int attempts) {
        return retryDelays(attempts, 0.1, 2.0);
    }

    public static List<Double> retryDelays(int attempts, double base, double cap) {
        List<Double> delays = new ArrayList<>(attempts);
        for (int attempt = 0; attempt < attempts; attempt++) {
            delays.add(Math.min(cap, base * Math.pow(2, attempt)));
        }
        return delays;
    }
}
