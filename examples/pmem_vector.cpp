/*
 * STL containers whose elements live in a file-backed (PMEM) kind, through memkind's C++
 * allocator libmemkind::pmem::allocator (header pmem_allocator.h):
 *
 *     g++ -std=c++11 examples/pmem_vector.cpp $(pkg-config --cflags --libs tiercache-memkind) \
 *         -o pmem_vector
 *     ./pmem_vector [PMEM_DIR]        (default /dev/shm)
 *
 * The allocator makes one kind (an unlinked file in PMEM_DIR, at most 64 MiB); the vector and
 * the map share it through copies of the allocator, and the kind goes with the last copy.
 */
#include <cstdio>
#include <functional>
#include <map>
#include <memkind.h>
#include <new>
#include <pmem_allocator.h>
#include <string>
#include <utility>
#include <vector>

using pmem_string =
    std::basic_string<char, std::char_traits<char>, libmemkind::pmem::allocator<char>>;

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/dev/shm";
    libmemkind::pmem::allocator<int> alloc(dir, 64u << 20);

    std::vector<int, libmemkind::pmem::allocator<int>> v(alloc);
    for (int i = 0; i < 1000000; i++) v.push_back(i);
    long long sum = 0;
    for (int x : v) sum += x;
    std::printf("vector of %zu ints on PMEM, sum %lld, data on the PMEM kind: %s\n", v.size(), sum,
                memkind_detect_kind(v.data()) != MEMKIND_DEFAULT ? "yes" : "no");

    using pair_alloc = libmemkind::pmem::allocator<std::pair<const int, pmem_string>>;
    std::map<int, pmem_string, std::less<int>, pair_alloc> names{pair_alloc(alloc)};
    for (int i = 0; i < 3; i++) {
        std::string name = "a name long enough to need a block of its own #" + std::to_string(i);
        names.emplace(i, pmem_string(name.c_str(), libmemkind::pmem::allocator<char>(alloc)));
    }
    std::printf("map of %zu strings, first: %s\n", names.size(), names.begin()->second.c_str());

    try { /* more than the kind's 64 MiB: the allocator throws std::bad_alloc */
        std::vector<char, libmemkind::pmem::allocator<char>> big(
            100u << 20, 0, libmemkind::pmem::allocator<char>(alloc));
        std::puts("unexpected: 100 MiB fit in a 64 MiB kind");
        return 1;
    } catch (const std::bad_alloc &) {
        std::puts("100 MiB in a 64 MiB kind: std::bad_alloc");
    }
    return 0;
}
