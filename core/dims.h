#pragma once
/// Dims: a shape or a stride list (int64 per dimension) with inline room for the common
/// ranks, so that making a tensor header does not allocate for them (issue: the zero-copy
/// path allocates nothing but the header).

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace astensor {

class Dims {
 public:
  static constexpr std::size_t kInline = 6;

  Dims() = default;
  explicit Dims(std::size_t n, int64_t value = 0) { resize(n, value); }
  Dims(std::initializer_list<int64_t> v) { assign(v.begin(), v.size()); }
  Dims(std::span<const int64_t> v) { assign(v.data(), v.size()); }  // NOLINT: implicit on purpose
  Dims(const std::vector<int64_t>& v) { assign(v.data(), v.size()); }  // NOLINT
  Dims(const Dims& o) { assign(o.data(), o.size()); }
  Dims(Dims&& o) noexcept { *this = std::move(o); }
  Dims& operator=(const Dims& o) {
    if (this != &o) assign(o.data(), o.size());
    return *this;
  }
  Dims& operator=(Dims&& o) noexcept {
    if (this == &o) return *this;
    size_ = o.size_;
    heap_ = std::move(o.heap_);
    std::memcpy(inline_, o.inline_, sizeof(inline_));
    o.size_ = 0;
    return *this;
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  int64_t* data() { return heap_ ? heap_.get() : inline_; }
  const int64_t* data() const { return heap_ ? heap_.get() : inline_; }
  int64_t& operator[](std::size_t i) { return data()[i]; }
  int64_t operator[](std::size_t i) const { return data()[i]; }
  int64_t* begin() { return data(); }
  int64_t* end() { return data() + size_; }
  const int64_t* begin() const { return data(); }
  const int64_t* end() const { return data() + size_; }
  std::span<const int64_t> span() const { return {data(), size_}; }
  std::vector<int64_t> vec() const { return {begin(), end()}; }

  void resize(std::size_t n, int64_t value = 0) {
    Dims old(*this);
    size_ = 0;
    heap_.reset();
    reserve_exact(n);
    size_ = n;
    for (std::size_t i = 0; i < n; ++i) data()[i] = i < old.size() ? old[i] : value;
  }
  void push_back(int64_t v) {
    if (size_ == capacity()) {
      Dims old(*this);
      reserve_exact(std::max<std::size_t>(2 * capacity(), kInline));
      std::copy(old.begin(), old.end(), data());
    }
    data()[size_++] = v;
  }

  std::string str() const {
    std::string s = "(";
    for (std::size_t i = 0; i < size_; ++i) {
      if (i) s += ", ";
      s += std::to_string((*this)[i]);
    }
    if (size_ == 1) s += ",";
    return s + ")";
  }

  friend bool operator==(const Dims& a, const Dims& b) {
    return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
  }
  friend bool operator!=(const Dims& a, const Dims& b) { return !(a == b); }

 private:
  std::size_t capacity() const { return heap_ ? cap_ : kInline; }
  void reserve_exact(std::size_t n) {
    if (n > kInline) {
      heap_ = std::make_unique<int64_t[]>(n);
      cap_ = n;
    } else {
      heap_.reset();
    }
  }
  void assign(const int64_t* p, std::size_t n) {
    if (n > capacity() || (heap_ && n <= kInline)) reserve_exact(n);
    size_ = n;
    std::copy(p, p + n, data());
  }

  std::size_t size_ = 0;
  std::size_t cap_ = 0;
  int64_t inline_[kInline] = {};
  std::unique_ptr<int64_t[]> heap_;
};

}  // namespace astensor
