/*
 * libmemkind::static_kind::allocator<T>: a C++ allocator (usable with STL containers) over one of
 * memkind's static kinds, named by libmemkind::kinds. Header-only, over memkind.h (memkind 1.14's
 * API; link with -ltiercache). allocate throws std::bad_alloc when the kind cannot supply the
 * memory (for example an unavailable kind) and never returns NULL; allocate(0) throws too, as
 * memkind's does; over-aligned types get their alignment.
 */
#pragma once

#include <cstddef>
#include <limits>
#include <new>
#include <utility>

#include "memkind.h"
#include "memkind_allocator_base.h"

namespace libmemkind {

enum class kinds {
    DAX_KMEM,
    DAX_KMEM_ALL,
    DAX_KMEM_PREFERRED,
    DAX_KMEM_INTERLEAVE,
    DEFAULT,
    HIGHEST_CAPACITY,
    HIGHEST_CAPACITY_PREFERRED,
    HIGHEST_CAPACITY_LOCAL,
    HIGHEST_CAPACITY_LOCAL_PREFERRED,
    HUGETLB,
    INTERLEAVE,
    HBW,
    HBW_ALL,
    HBW_HUGETLB,
    HBW_ALL_HUGETLB,
    HBW_PREFERRED,
    HBW_PREFERRED_HUGETLB,
    HBW_INTERLEAVE,
    REGULAR,
    LOWEST_LATENCY_LOCAL,
    LOWEST_LATENCY_LOCAL_PREFERRED,
    HIGHEST_BANDWIDTH_LOCAL,
    HIGHEST_BANDWIDTH_LOCAL_PREFERRED
};

namespace detail {

inline memkind_t static_kind(kinds k) {
    switch (k) {
    case kinds::DAX_KMEM: return MEMKIND_DAX_KMEM;
    case kinds::DAX_KMEM_ALL: return MEMKIND_DAX_KMEM_ALL;
    case kinds::DAX_KMEM_PREFERRED: return MEMKIND_DAX_KMEM_PREFERRED;
    case kinds::DAX_KMEM_INTERLEAVE: return MEMKIND_DAX_KMEM_INTERLEAVE;
    case kinds::DEFAULT: return MEMKIND_DEFAULT;
    case kinds::HIGHEST_CAPACITY: return MEMKIND_HIGHEST_CAPACITY;
    case kinds::HIGHEST_CAPACITY_PREFERRED: return MEMKIND_HIGHEST_CAPACITY_PREFERRED;
    case kinds::HIGHEST_CAPACITY_LOCAL: return MEMKIND_HIGHEST_CAPACITY_LOCAL;
    case kinds::HIGHEST_CAPACITY_LOCAL_PREFERRED: return MEMKIND_HIGHEST_CAPACITY_LOCAL_PREFERRED;
    case kinds::HUGETLB: return MEMKIND_HUGETLB;
    case kinds::INTERLEAVE: return MEMKIND_INTERLEAVE;
    case kinds::HBW: return MEMKIND_HBW;
    case kinds::HBW_ALL: return MEMKIND_HBW_ALL;
    case kinds::HBW_HUGETLB: return MEMKIND_HBW_HUGETLB;
    case kinds::HBW_ALL_HUGETLB: return MEMKIND_HBW_ALL_HUGETLB;
    case kinds::HBW_PREFERRED: return MEMKIND_HBW_PREFERRED;
    case kinds::HBW_PREFERRED_HUGETLB: return MEMKIND_HBW_PREFERRED_HUGETLB;
    case kinds::HBW_INTERLEAVE: return MEMKIND_HBW_INTERLEAVE;
    case kinds::REGULAR: return MEMKIND_REGULAR;
    case kinds::LOWEST_LATENCY_LOCAL: return MEMKIND_LOWEST_LATENCY_LOCAL;
    case kinds::LOWEST_LATENCY_LOCAL_PREFERRED: return MEMKIND_LOWEST_LATENCY_LOCAL_PREFERRED;
    case kinds::HIGHEST_BANDWIDTH_LOCAL: return MEMKIND_HIGHEST_BANDWIDTH_LOCAL;
    case kinds::HIGHEST_BANDWIDTH_LOCAL_PREFERRED:
        return MEMKIND_HIGHEST_BANDWIDTH_LOCAL_PREFERRED;
    }
    throw std::bad_alloc(); /* not a kinds value */
}
} // namespace detail

namespace static_kind {

template <typename T> class allocator : public tiercache::detail::allocator_base<T> {
  public:
    template <class U> struct rebind { using other = allocator<U>; };

    explicit allocator(kinds kind) : kind_(detail::static_kind(kind)) {}
    template <typename U> allocator(const allocator<U> &other) noexcept : kind_(other.kind_) {}

    T *allocate(std::size_t n) const { return tiercache::detail::kind_allocate<T>(kind_, n); }
    void deallocate(T *p, std::size_t) const noexcept { memkind_free(kind_, p); }

    template <typename U, typename V>
    friend bool operator==(const allocator<U> &a, const allocator<V> &b) noexcept;
    template <typename U> friend class allocator;

  private:
    memkind_t kind_;
};

template <typename U, typename V>
bool operator==(const allocator<U> &a, const allocator<V> &b) noexcept {
    return a.kind_ == b.kind_;
}
template <typename U, typename V>
bool operator!=(const allocator<U> &a, const allocator<V> &b) noexcept {
    return !(a == b);
}

} // namespace static_kind
} // namespace libmemkind
