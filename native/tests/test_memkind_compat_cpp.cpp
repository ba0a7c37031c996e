// memkind 1.14's C++ allocators (hbw_allocator.h, memkind_allocator.h, pmem_allocator.h,
// fixed_allocator.h): what memkind's own do, checked like test_memkind_compat.c against both
// tiercache's headers and, with -DTC_AGAINST_MEMKIND, Debian's (make test-memkind).
#include <cstddef>
#include <memory>
#include <new>

#include "check.h"
#include "fixed_allocator.h"
#include "hbw_allocator.h"
#include "memkind_allocator.h"
#include "pmem_allocator.h"

template <typename A> static bool throws_bad_alloc(A &a, std::size_t n) {
    try {
        auto *p = a.allocate(n);
        a.deallocate(p, n);
    } catch (const std::bad_alloc &) {
        return true;
    }
    return false;
}

// 8. allocate(0) throws std::bad_alloc, as a count over max_size() does; 1 object works.
template <typename A> static void zero_and_too_many_throw(A &a) {
    CHECK(throws_bad_alloc(a, 0));
    CHECK(throws_bad_alloc(a, std::allocator_traits<A>::max_size(a) + 1));
    CHECK(!throws_bad_alloc(a, 1));
}

TEST(allocate_zero_throws_bad_alloc) {
    hbw::allocator<long> h;
    zero_and_too_many_throw(h);
    libmemkind::static_kind::allocator<long> s(libmemkind::kinds::DEFAULT);
    zero_and_too_many_throw(s);
    libmemkind::pmem::allocator<long> p("/dev/shm", 64 << 20);
    zero_and_too_many_throw(p);
    static char area[8 << 20];
    libmemkind::fixed::allocator<long> f(area, sizeof area);
    zero_and_too_many_throw(f);
}

int main() {
    RUN(allocate_zero_throws_bad_alloc);
    return CHECK_DONE();
}
