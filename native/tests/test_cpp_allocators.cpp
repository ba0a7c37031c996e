// The header-only C++ allocators (memkind_allocator.h, pmem_allocator.h, fixed_allocator.h,
// hbw_allocator.h) with STL containers, built as C++11 and as C++17.
#include <cstdint>
#include <list>
#include <map>
#include <scoped_allocator>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.h"
#include "fixed_allocator.h"
#include "hbw_allocator.h"
#include "memkind_allocator.h"
#include "pmem_allocator.h"

using namespace libmemkind;

template <typename F> static bool throws_runtime_error(F f) {
    try {
        f();
    } catch (const std::runtime_error &) {
        return true;
    }
    return false;
}

TEST(static_kind_allocator_with_vector_and_map) {
    static_kind::allocator<int> a(kinds::DEFAULT);
    std::vector<int, static_kind::allocator<int>> v(a);
    for (int i = 0; i < 100000; i++) v.push_back(i);
    CHECK(memkind_detect_kind(v.data()) == MEMKIND_DEFAULT);
    CHECK_EQ(v[99999], 99999);
    using pair_alloc = static_kind::allocator<std::pair<const int, int>>;
    std::map<int, int, std::less<int>, pair_alloc> m{pair_alloc(a)};
    for (int i = 0; i < 1000; i++) m[i] = i * 2;
    CHECK_EQ(m[500], 1000);
    CHECK(pair_alloc(a) == a);
    /* an unavailable kind throws bad_alloc instead of handing out NULL */
    if (memkind_check_available(MEMKIND_HBW) != MEMKIND_SUCCESS) {
        static_kind::allocator<int> h(kinds::HBW);
        bool threw = false;
        try {
            h.allocate(10);
        } catch (const std::bad_alloc &) {
            threw = true;
        }
        CHECK(threw);
        CHECK(h != a);
    }
    struct alignas(128) wide {
        char c[3];
    };
    std::vector<wide, static_kind::allocator<wide>> w(5, wide(), static_kind::allocator<wide>(a));
    CHECK(((uintptr_t)w.data() & 127) == 0);
    bool threw = false; /* as memkind's allocators: no zero-sized allocation */
    try {
        a.allocate(0);
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw);
}

TEST(pmem_allocator_containers_live_in_the_file) {
    pmem::allocator<int> a("/dev/shm", 64 << 20);
    std::vector<int, pmem::allocator<int>> v(a);
    for (int i = 0; i < 100000; i++) v.push_back(i);
    memkind_t k = memkind_detect_kind(v.data());
    CHECK(k != MEMKIND_DEFAULT && k != nullptr);
    std::list<int, pmem::allocator<int>> l(a);
    for (int i = 0; i < 1000; i++) l.push_back(i);
    CHECK(memkind_detect_kind(&l.front()) == k); /* the rebound node allocator shares it */
    using pstring = std::basic_string<char, std::char_traits<char>, pmem::allocator<char>>;
    pstring s("a string long enough to leave the small-string buffer behind", a);
    CHECK(memkind_detect_kind(&s[0]) == k);
    using outer = pmem::allocator<pstring>;
    std::vector<pstring, std::scoped_allocator_adaptor<outer>> vs{
        std::scoped_allocator_adaptor<outer>(outer(a))};
    vs.emplace_back("another string long enough to need the heap, from the outer allocator");
    CHECK(memkind_detect_kind(&vs.back()[0]) == k); /* the inner string got the allocator */
    CHECK(memkind_detect_kind(vs.data()) == k);
    using pair_alloc = pmem::allocator<std::pair<const pstring, int>>;
    std::map<pstring, int, std::less<pstring>, pair_alloc> m{pair_alloc(a)};
    m[pstring("key", a)] = 1;
    CHECK_EQ(m.size(), 1);
    /* two allocators, two files */
    pmem::allocator<int> b(std::string("/dev/shm"), 0, allocation_policy::CONSERVATIVE);
    CHECK(a != b);
    CHECK(pmem::allocator<char>(a) == a);
    int *p = b.allocate(1000);
    CHECK(memkind_detect_kind(p) != k && memkind_detect_kind(p) != MEMKIND_DEFAULT);
    b.deallocate(p, 1000);
    /* full file: bad_alloc */
    bool threw = false;
    try {
        v.reserve(100 << 20);
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw);
}

TEST(pmem_allocator_constructor_errors_throw) {
    CHECK(throws_runtime_error([] { pmem::allocator<int> a("/nonexistent", 0); }));
    CHECK(throws_runtime_error([] { pmem::allocator<int> a("/dev/shm", 1000); }));
    CHECK(throws_runtime_error(
        [] { pmem::allocator<int> a("/dev/shm", 0, allocation_policy::MAX); }));
}

TEST(fixed_allocator_stays_in_the_area) {
    static char area[8 << 20];
    fixed::allocator<long> a(area, sizeof area);
    std::vector<long, fixed::allocator<long>> v(a);
    for (long i = 0; i < 100000; i++) v.push_back(i);
    CHECK((char *)v.data() >= area && (char *)(v.data() + v.size()) <= area + sizeof area);
    CHECK_EQ(v[12345], 12345);
    bool threw = false;
    try {
        v.reserve(2 << 20); /* 16 MiB of longs: more than the area */
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw);
    char small[16];
    CHECK(throws_runtime_error([&] { fixed::allocator<int> f(small, sizeof small); }));
}

TEST(hbw_allocator_with_vector) {
    std::vector<double, hbw::allocator<double>> v;
    for (int i = 0; i < 10000; i++) v.push_back(i * 0.5);
    CHECK(v[9999] == 9999 * 0.5);
    CHECK(hbw::allocator<int>() == hbw::allocator<double>());
    CHECK(hbw_malloc_usable_size(v.data()) >= v.size() * sizeof(double));
    hbw::allocator<int>::rebind<char>::other c;
    char *p = c.allocate(10);
    CHECK(p != nullptr);
    c.deallocate(p, 10);
}

int main() {
    printf("C++ standard %ld\n", (long)__cplusplus);
    RUN(static_kind_allocator_with_vector_and_map);
    RUN(pmem_allocator_containers_live_in_the_file);
    RUN(pmem_allocator_constructor_errors_throw);
    RUN(fixed_allocator_stays_in_the_area);
    RUN(hbw_allocator_with_vector);
    return CHECK_DONE();
}
