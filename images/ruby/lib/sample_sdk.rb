# frozen_string_literal: true

# A tiny stand-in SDK: the sample suite exercises it like an SDK's code examples would.
module SampleSdk
  Bucket = Struct.new(:name, :region) do
    def initialize(name, region = "us-east-1")
      super
    end

    def arn
      "arn:aws:s3:::#{name}"
    end
  end

  module_function

  def validate_bucket_name(name)
    name.length.between?(3, 63) && name == name.downcase && !name.start_with?("-")
  end

  def paginate(items, page_size)
    raise ArgumentError, "page_size must be at least 1" if page_size < 1

    items.each_slice(page_size).to_a
  end

  def retry_delays(attempts, base: 0.1, cap: 2.0)
    Array.new(attempts) { |attempt| [cap, base * 2**attempt].min }
  end
end
