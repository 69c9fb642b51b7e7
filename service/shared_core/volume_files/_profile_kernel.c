/* The profile snapshot's level scan in C: POC, value area, nearest HVNs, sum of squares.
 *
 * `profile_scan.scan_levels` is the reference, and the definitions are in that module's
 * docstring (and DESIGN.md). This computes the same integers, step for step, on arrays instead
 * of a dict: it runs for every changed symbol at every flush, and the busiest symbols' profiles
 * have hundreds of levels. The tests compare the two on random profiles. Levels and volumes are
 * bounded by 2**61 on the way in and products are taken in 128 bits, so no step can overflow; a
 * larger level, volume or total raises OverflowError and the caller falls back to the reference.
 *
 * scan(keys, vals, total, num, den, ref, max_levels)
 *     -> (poc, peak, lo, hi, support, resistance, sum_sq)
 *   keys: ascending levels (list of int, no duplicates), vals: their volumes (list of int > 0),
 *   total: sum(vals), num/den: the value-area fraction, ref: reference level or None (= POC),
 *   support/resistance: lists of levels, nearest first; sum_sq: the sum of the squared volumes
 *   (for the strength), exact.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>

typedef __int128 wide;
typedef long long i64;

#define STACK_LEVELS 256

typedef struct {
    const i64 *keys;
    const i64 *vals;
    Py_ssize_t n;
    i64 count; /* levels with volume */
    i64 total;
} Profile;

/* Index of the first key > level (bisect_right) / >= level (bisect_left). */
static Py_ssize_t bisect_right(const Profile *p, i64 level) {
    Py_ssize_t lo = 0, hi = p->n;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (p->keys[mid] <= level) lo = mid + 1; else hi = mid;
    }
    return lo;
}

static Py_ssize_t bisect_left(const Profile *p, i64 level) {
    Py_ssize_t lo = 0, hi = p->n;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (p->keys[mid] < level) lo = mid + 1; else hi = mid;
    }
    return lo;
}

/* Index of key[i] + delta (|delta| <= 2) among i's neighbours, or -1 when that level is empty:
 * keys are distinct integers, so it can only sit within two places of i. */
static Py_ssize_t near(const Profile *p, Py_ssize_t i, i64 delta) {
    wide want = (wide)p->keys[i] + delta;
    Py_ssize_t from = i - 2 < 0 ? 0 : i - 2;
    Py_ssize_t to = i + 2 >= p->n ? p->n - 1 : i + 2;
    for (Py_ssize_t j = from; j <= to; j++) {
        if ((wide)p->keys[j] == want) return j;
    }
    return -1;
}

static i64 volume_near(const Profile *p, Py_ssize_t i, i64 delta) {
    Py_ssize_t j = near(p, i, delta);
    return j < 0 ? 0 : p->vals[j];
}

/* _is_peak: at least the mean volume and no less than each of the +-2 neighbours. */
static int is_peak(const Profile *p, Py_ssize_t i) {
    i64 v = p->vals[i];
    return v > 0 && (wide)v * p->count >= (wide)p->total
        && v >= volume_near(p, i, -2) && v >= volume_near(p, i, -1)
        && v >= volume_near(p, i, 1) && v >= volume_near(p, i, 2);
}

/* _is_hvn: a peak that does not continue a plateau of equal peaks one or two levels below. */
static int is_hvn(const Profile *p, Py_ssize_t i) {
    if (!is_peak(p, i)) return 0;
    i64 v = p->vals[i];
    for (i64 delta = -1; delta >= -2; delta--) {
        Py_ssize_t j = near(p, i, delta);
        if (j >= 0 && p->vals[j] == v && is_peak(p, j)) return 0;
    }
    return 1;
}

#define LIMIT ((i64)1 << 61)

static int fill(PyObject *list, i64 *out, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        i64 v = PyLong_AsLongLong(PyList_GET_ITEM(list, i));
        if (v == -1 && PyErr_Occurred()) return -1;
        if (v > LIMIT || v < -LIMIT) {
            PyErr_SetString(PyExc_OverflowError, "level or volume beyond 2**61");
            return -1;
        }
        out[i] = v;
    }
    return 0;
}

static PyObject *append_level(PyObject *list, i64 level) {
    PyObject *item = PyLong_FromLongLong(level);
    if (item == NULL) return NULL;
    int rc = PyList_Append(list, item);
    Py_DECREF(item);
    return rc < 0 ? NULL : list;
}

/* Support (step -1, from below ref) or resistance (step +1, from above ref). */
static PyObject *nodes(const Profile *p, Py_ssize_t start, Py_ssize_t step, i64 max_levels) {
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    if (max_levels == 0) return out;
    for (Py_ssize_t i = start; i >= 0 && i < p->n; i += step) {
        if ((wide)p->vals[i] * p->count >= (wide)p->total && is_hvn(p, i)) {
            if (append_level(out, p->keys[i]) == NULL) {
                Py_DECREF(out);
                return NULL;
            }
            if (PyList_GET_SIZE(out) == max_levels) break;
        }
    }
    return out;
}

/* sum(v * v) as a Python int. Volumes up to 2**40 (the common case by far) are summed in 128
 * bits: n * 2**80 cannot overflow for any list that fits in memory; larger ones in Python. */
static PyObject *sum_of_squares(const Profile *p, i64 peak) {
    if (peak <= ((i64)1 << 40)) {
        unsigned __int128 sum = 0;
        for (Py_ssize_t i = 0; i < p->n; i++) {
            unsigned __int128 v = (unsigned __int128)p->vals[i];
            sum += v * v;
        }
        uint64_t high = (uint64_t)(sum >> 64), low = (uint64_t)sum;
        if (high == 0) return PyLong_FromUnsignedLongLong(low);
        PyObject *h = PyLong_FromUnsignedLongLong(high), *shift = PyLong_FromLong(64);
        PyObject *l = PyLong_FromUnsignedLongLong(low);
        PyObject *shifted = (h && shift) ? PyNumber_Lshift(h, shift) : NULL;
        PyObject *result = (shifted && l) ? PyNumber_Or(shifted, l) : NULL;
        Py_XDECREF(h);
        Py_XDECREF(shift);
        Py_XDECREF(l);
        Py_XDECREF(shifted);
        return result;
    }
    PyObject *sum = PyLong_FromLong(0);
    for (Py_ssize_t i = 0; sum != NULL && i < p->n; i++) {
        PyObject *v = PyLong_FromLongLong(p->vals[i]);
        PyObject *sq = v ? PyNumber_Multiply(v, v) : NULL;
        PyObject *next = sq ? PyNumber_Add(sum, sq) : NULL;
        Py_XDECREF(v);
        Py_XDECREF(sq);
        Py_DECREF(sum);
        sum = next;
    }
    return sum;
}

static PyObject *compute(const Profile *p, i64 num, i64 den, PyObject *ref_obj, i64 max_levels) {
    const i64 *keys = p->keys, *vals = p->vals;
    Py_ssize_t n = p->n;
    i64 low = keys[0], high = keys[n - 1];

    /* POC: most volume, then nearest the middle (|2*level - (low+high)|), then lowest. */
    i64 peak = vals[0];
    for (Py_ssize_t i = 1; i < n; i++) if (vals[i] > peak) peak = vals[i];
    wide span = (wide)low + high;
    Py_ssize_t ip = -1;
    wide best = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (vals[i] != peak) continue;
        wide dist = 2 * (wide)keys[i] - span;
        if (dist < 0) dist = -dist;
        if (ip < 0 || dist < best) { ip = i; best = dist; }
    }
    i64 poc = keys[ip];

    /* Value area: `iu` is the first index above hi, `id` the last below lo, so the next one
     * or two levels on each side are found without a lookup. */
    i64 lo = poc, hi = poc;
    Py_ssize_t iu = ip + 1, id = ip - 1;
    wide area = peak, target = (wide)p->total * num;
    i64 n_up = -1, n_dn = -1, up = 0, dn = 0;
    while (area * den < target) {
        if (n_up < 0) {
            n_up = high - hi;
            up = 0;
            if (n_up >= 2) {
                n_up = 2;
                for (Py_ssize_t j = iu; j < n && j < iu + 2; j++)
                    if (keys[j] <= hi + 2) up += vals[j];
            } else if (n_up == 1 && iu < n && keys[iu] == hi + 1) {
                up = vals[iu];
            }
        }
        if (n_dn < 0) {
            n_dn = lo - low;
            dn = 0;
            if (n_dn >= 2) {
                n_dn = 2;
                for (Py_ssize_t j = id; j >= 0 && j > id - 2; j--)
                    if (keys[j] >= lo - 2) dn += vals[j];
            } else if (n_dn == 1 && id >= 0 && keys[id] == lo - 1) {
                dn = vals[id];
            }
        }
        if (n_up && (!n_dn || up >= dn)) {
            if (up) {
                hi += n_up;
                area += up;
                while (iu < n && keys[iu] <= hi) iu++;
            } else {
                /* Two empty levels above: jump the empty pairs to the one holding keys[iu]. */
                hi += 2 * ((keys[iu] - hi - 1) / 2);
            }
            n_up = -1;
        } else if (n_dn) {
            if (dn) {
                lo -= n_dn;
                area += dn;
                while (id >= 0 && keys[id] >= lo) id--;
            } else {
                lo -= 2 * ((lo - keys[id] - 1) / 2);
            }
            n_dn = -1;
        } else {
            break; /* whole range included; unreachable while num/den <= 1 */
        }
    }

    i64 ref = poc;
    if (ref_obj != Py_None) {
        ref = PyLong_AsLongLong(ref_obj);
        if (ref == -1 && PyErr_Occurred()) return NULL;
    }
    PyObject *support = nodes(p, bisect_left(p, ref) - 1, -1, max_levels);
    if (support == NULL) return NULL;
    PyObject *resistance = nodes(p, bisect_right(p, ref), 1, max_levels);
    if (resistance == NULL) {
        Py_DECREF(support);
        return NULL;
    }
    PyObject *sum_sq = sum_of_squares(p, peak);
    if (sum_sq == NULL) {
        Py_DECREF(support);
        Py_DECREF(resistance);
        return NULL;
    }
    return Py_BuildValue("(LLLLNNN)", poc, peak, lo, hi, support, resistance, sum_sq);
}

static PyObject *scan(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *keys_obj, *vals_obj, *ref_obj;
    i64 total, num, den, max_levels;
    if (!PyArg_ParseTuple(args, "O!O!LLLOL:scan", &PyList_Type, &keys_obj, &PyList_Type,
                          &vals_obj, &total, &num, &den, &ref_obj, &max_levels)) {
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(keys_obj);
    if (n == 0 || PyList_GET_SIZE(vals_obj) != n) {
        PyErr_SetString(PyExc_ValueError, "keys and vals must be non-empty and of equal length");
        return NULL;
    }
    if (total <= 0 || num <= 0 || den <= 0 || num > den || max_levels < 0) {
        PyErr_SetString(PyExc_ValueError, "need total > 0, 0 < num <= den and max_levels >= 0");
        return NULL;
    }
    i64 stack[2 * STACK_LEVELS];
    i64 *buf = stack;
    if (n > STACK_LEVELS) {
        buf = PyMem_Malloc(2 * (size_t)n * sizeof(i64));
        if (buf == NULL) return PyErr_NoMemory();
    }
    PyObject *result = NULL;
    if (fill(keys_obj, buf, n) == 0 && fill(vals_obj, buf + n, n) == 0) {
        Profile p = {buf, buf + n, n, (i64)n, total};
        result = compute(&p, num, den, ref_obj, max_levels);
    }
    if (buf != stack) PyMem_Free(buf);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(keys, vals, total, num, den, ref, max_levels) -> "
     "(poc, peak, lo, hi, support, resistance)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_profile_kernel",
    "The profile snapshot's level scan in C (see profile_scan.scan_levels).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__profile_kernel(void) { return PyModule_Create(&module); }
