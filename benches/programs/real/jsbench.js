// A small JavaScript workload for the QuickJS-in-Wasm benchmark: recursion,
// integer arithmetic, a string-keyed Map, objects, sorting with a comparator
// and string building. Prints one line that every runtime must reproduce.
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
let acc = 0;
for (let i = 0; i < 300000; i++) acc = (acc * 31 + i * i) % 1000003;
const words = new Map();
for (let i = 0; i < 80000; i++) {
  const k = "w" + ((i * 7919) % 10007);
  words.set(k, (words.get(k) || 0) + 1);
}
let v = { x: 0, y: 0 };
for (let i = 0; i < 100000; i++) v = { x: v.x + (i & 7), y: v.y + (i % 5) };
const lst = [];
for (let i = 0; i < 80000; i++) lst.push((i * 2654435761) % 65536);
lst.sort((a, b) => a - b);
const text = lst.filter((_, i) => i % 1000 === 0).join("-");
let mx = 0;
for (const c of words.values()) if (c > mx) mx = c;
console.log(fib(24), acc, words.size, mx, v.x, v.y, lst[40000], text.length);
