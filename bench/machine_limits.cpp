#include "bench/machine_limits.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>
#include <vector>

#include "bench/host_arrays.h"
#include "bench/host_report.h"

namespace astensor::bench {

// --- a persistent pool for the multi-threaded memcpy limit ----------------------------------

namespace {
class CopyPool {
 public:
  ~CopyPool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  /// Runs fn(part) for part in [0, parts) on parts threads (the caller is part 0).
  void run(int parts, const std::function<void(int)>& fn) {
    while (static_cast<int>(workers_.size()) < parts - 1) {
      const int id = static_cast<int>(workers_.size()) + 1;
      workers_.emplace_back([this, id] { loop(id); });
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      fn_ = &fn;
      parts_ = parts;
      pending_ = parts - 1;
      ++generation_;
    }
    cv_.notify_all();
    fn(0);
    std::unique_lock<std::mutex> lk(mu_);
    done_.wait(lk, [&] { return pending_ == 0; });
    fn_ = nullptr;
  }

 private:
  void loop(int id) {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int)>* fn = nullptr;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        if (id < parts_) fn = fn_;
      }
      if (!fn) continue;
      (*fn)(id);
      std::lock_guard<std::mutex> lk(mu_);
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, done_;
  const std::function<void(int)>* fn_ = nullptr;
  int parts_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

CopyPool& pool() {
  static CopyPool p;
  return p;
}

std::mutex g_limits_mu;
std::map<std::tuple<int, std::size_t, OutMemory>, double> g_memcpy_limits;
double g_pinned_h2d = 0, g_pinned_d2h = 0;
}  // namespace

void parallel_memcpy(void* dst, const void* src, std::size_t n, int threads) {
  if (threads <= 1 || n < (std::size_t(64) << 10)) {
    std::memcpy(dst, src, n);
    return;
  }
  // Page-aligned parts so that no two threads write one cache line.
  const std::size_t part = ((n / threads) + 4095) & ~std::size_t(4095);
  pool().run(threads, [&](int i) {
    const std::size_t lo = std::min(n, part * i), hi = std::min(n, lo + part);
    if (hi > lo) std::memcpy(static_cast<char*>(dst) + lo, static_cast<const char*>(src) + lo, hi - lo);
  });
}

double threads_memcpy_limit(int threads, std::size_t bytes, OutMemory out);

const char* out_memory_name(OutMemory m) {
  switch (m) {
    case OutMemory::Reused: return "reused";
    case OutMemory::Fresh: return "fresh";
    case OutMemory::FreshHuge: return "fresh_huge";
  }
  return "?";
}

int impl_threads() {
  if (const char* e = std::getenv("ASTENSOR_NUM_THREADS"); e && std::atoi(e) > 0) return std::atoi(e);
  const unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

int threads_for(Impl impl) { return impl == Impl::Reference ? 1 : impl_threads(); }

void store_memcpy_limit(int threads, std::size_t bytes, double bytes_per_s, OutMemory out) {
  std::lock_guard<std::mutex> lk(g_limits_mu);
  // The best rate seen: on a shared machine a neighbour only ever makes memcpy slower.
  auto [it, inserted] = g_memcpy_limits.try_emplace({threads, bytes, out}, bytes_per_s);
  if (!inserted) it->second = std::max(it->second, bytes_per_s);
}

double memcpy_limit(int threads, std::size_t bytes, OutMemory out) {
  bytes = std::max<std::size_t>(bytes, 64);
  // An implementation may always choose one thread, so more threads never lower the limit
  // (at small sizes waking a second thread costs more than the copy).
  if (threads > 1)
    return std::max(threads_memcpy_limit(threads, bytes, out), threads_memcpy_limit(1, bytes, out));
  return threads_memcpy_limit(1, bytes, out);
}

double threads_memcpy_limit(int threads, std::size_t bytes, OutMemory out) {
  {
    std::lock_guard<std::mutex> lk(g_limits_mu);
    if (auto it = g_memcpy_limits.find({threads, bytes, out}); it != g_memcpy_limits.end()) return it->second;
  }
  // Not measured by a cpu/memcpy case in this run (filtered out, or an odd size): calibrate
  // the same way, briefly: median of 5 timed batches of >= 20 ms each (fresh: a new mapping
  // per copy, as the cpu/memcpy out:fresh cases do).
  HostBuffer src(bytes), dst = out == OutMemory::Reused ? HostBuffer(bytes) : HostBuffer();
  std::vector<double> rates;
  for (int rep = 0; rep < 5; ++rep) {
    std::size_t moved = 0;
    const double t0 = now_s();
    double t1 = t0;
    while (t1 - t0 < 0.02) {
      if (out == OutMemory::Reused) {
        parallel_memcpy(dst.data(), src.data(), bytes, threads);
      } else {
        HostBuffer fresh(bytes, /*prefault=*/false, out == OutMemory::FreshHuge);
        parallel_memcpy(fresh.data(), src.data(), bytes, threads);
      }
      benchmark::ClobberMemory();
      moved += bytes;
      t1 = now_s();
    }
    rates.push_back(static_cast<double>(moved) / (t1 - t0));
  }
  std::sort(rates.begin(), rates.end());
  store_memcpy_limit(threads, bytes, rates[2], out);
  return rates[2];
}

double pinned_limit(bool h2d) {
  std::lock_guard<std::mutex> lk(g_limits_mu);
  return h2d ? g_pinned_h2d : g_pinned_d2h;
}

void store_pinned_limit(bool h2d, double bytes_per_s) {
  std::lock_guard<std::mutex> lk(g_limits_mu);
  // The peak over sizes: small copies are latency bound, the link limit is the best rate.
  double& slot = h2d ? g_pinned_h2d : g_pinned_d2h;
  slot = std::max(slot, bytes_per_s);
}

}  // namespace astensor::bench
