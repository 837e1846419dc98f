# A small pure-Python workload for the CPython-in-Wasm benchmark: recursion,
# integer arithmetic, dicts keyed by strings, sorting, string building and a
# class-heavy loop. Prints one line that every runtime must reproduce.
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

class Vec:
    __slots__ = ("x", "y")
    def __init__(self, x, y):
        self.x, self.y = x, y
    def add(self, o):
        return Vec(self.x + o.x, self.y + o.y)

acc = 0
for i in range(40000):
    acc = (acc * 31 + i * i) % 1000003
words = {}
for i in range(15000):
    k = "w%d" % (i * 7919 % 10007)
    words[k] = words.get(k, 0) + 1
v = Vec(0, 0)
for i in range(15000):
    v = v.add(Vec(i & 7, i % 5))
lst = sorted((i * 2654435761) % 65536 for i in range(15000))
text = "-".join(str(x) for x in lst[::250])
print(fib(18), acc, len(words), max(words.values()), v.x, v.y, lst[7500], len(text))
