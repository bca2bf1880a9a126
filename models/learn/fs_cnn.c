/* fs_cnn: the McMahan et al. 2017 CNN as model ops: conv 5x5 -> 32 (same) + ReLU, max-pool 2x2,
 * conv 5x5 -> 64 (same) + ReLU, max-pool 2x2, FC 512 + ReLU, FC n_classes + softmax.
 * Tensors are channel-last (NHWC), so a convolution is im2col + one GEMM whose output is
 * already the next NHWC tensor. Parameters, per layer W then b: conv W is cout x (5*5*cin) with
 * columns ordered (ky, kx, c); FC1's columns follow the NHWC flattening of the second pool.
 * A call is processed in slices of images sized so the scratch stays bounded whatever
 * max_batch is, the convolutions image by image within a slice (for the cache), the weight
 * gradients one GEMM per slice; loss_grad and predict never allocate. */
#include <stdlib.h>
#include <string.h>

#include "fs_model.h"
#include "fs_nn.h"

#define CNN_K 5                     /* kernel side */
#define CNN_PAD 2                   /* "same" padding for a 5x5 kernel at stride 1 */
#define CNN_C1 32                   /* first conv's output channels */
#define CNN_C2 64                   /* second conv's output channels */
#define CNN_FC 512                  /* hidden FC units */
#define CNN_SLICE_BUDGET (1u << 22) /* fs_real entries of scratch per slice (16 MiB) */
#define CNN_HEAD_ROWS 256           /* images predict's FC layers take at once (cnn_head_buf) */

/* A same-padded 5x5 stride-1 convolution on h x w x cin images. */
typedef struct cnn_conv {
    size_t h, w, cin, cout;
    size_t k;      /* im2col width: 5 * 5 * cin */
    size_t wo, bo; /* parameter offsets of W and b */
} cnn_conv;

typedef struct cnn_fc {
    size_t in, out, wo, bo;
} cnn_fc;

/* Scratch offsets (fs_real entries) of one slice's tensors. a1/a2 hold the convs' outputs before
 * the ReLU, and backward overwrites them with the gradients of those; pad is one zero-padded
 * image, the larger conv input's (cnn_im2col). */
typedef struct cnn_buf {
    size_t x, a1, p1, dp1, a2, p2, dp2, f1, df1, z, col, pad;
} cnn_buf;

/* Scratch offsets of predict's FC layers, which run on up to `rows` images at once however many
 * slices the convolutions took: FC1's weights (6.4 MB for 28x28) are then packed by the GEMM
 * once per `rows` images rather than once per slice. Backward uses the same region for dcol,
 * one image's patch gradient of conv2 (cnn_conv_learn). */
typedef struct cnn_head_buf {
    size_t rows, p2, f1, z, dcol;
} cnn_head_buf;

typedef struct cnn_impl {
    cnn_conv c1, c2;
    cnn_fc f1, f2;
    size_t slice; /* images per pass */
    cnn_buf off;
    cnn_head_buf head;
} cnn_impl;

/* ---- initialisation ---- */

/* He-uniform for the three layers followed by a ReLU, LeCun-uniform for the output layer so
 * initial logits are O(1); biases 0; draws in parameter order (fs_nn_init_layer). A conv's fan-in
 * is its im2col width. */
static void cnn_init(const fs_model *m, fs_real *w, gsl_rng *r)
{
    const cnn_impl *im = m->impl;
    fs_nn_init_layer(w + im->c1.wo, im->c1.k, im->c1.cout, true, r);
    fs_nn_init_layer(w + im->c2.wo, im->c2.k, im->c2.cout, true, r);
    fs_nn_init_layer(w + im->f1.wo, im->f1.in, im->f1.out, true, r);
    fs_nn_init_layer(w + im->f2.wo, im->f2.in, im->f2.out, false, r);
}

/* ---- im2col / col2im ---- */

/* Both go through one zero-padded image, (h + 4) x (w + 4) x cin, so every kernel row of a patch
 * is one contiguous run of 5 * cin entries, borders included: no bounds test per pixel and no
 * tiny memcpy/memset per kernel row (conv1's runs are 1 to 5 floats). The padded image is one
 * image's worth (buf.pad), small enough to stay in cache between its uses. */
static size_t cnn_pad_w(const cnn_conv *cv)
{
    return cv->w + 2 * CNN_PAD;
}

static size_t cnn_pad_len(const cnn_conv *cv)
{
    return (cv->h + 2 * CNN_PAD) * cnn_pad_w(cv) * cv->cin;
}

/* pad := image `img` (h x w x cin) with a border of CNN_PAD zero pixels. */
static void cnn_pad_image(const cnn_conv *cv, const fs_real *img, fs_real *pad)
{
    size_t c = cv->cin, pw = cnn_pad_w(cv), row = cv->w * c;
    memset(pad, 0, CNN_PAD * pw * c * sizeof *pad);
    for (size_t y = 0; y < cv->h; y++) {
        fs_real *dst = pad + (y + CNN_PAD) * pw * c;
        memset(dst, 0, CNN_PAD * c * sizeof *dst);
        memcpy(dst + CNN_PAD * c, img + y * row, row * sizeof *dst);
        memset(dst + CNN_PAD * c + row, 0, CNN_PAD * c * sizeof *dst);
    }
    memset(pad + (cv->h + CNN_PAD) * pw * c, 0, CNN_PAD * pw * c * sizeof *pad);
}

/* col (h*w x k) := the 5x5xcin patch around every pixel of one image, zeros outside. */
static void cnn_im2col(const cnn_conv *cv, const fs_real *img, fs_real *pad, fs_real *col)
{
    size_t h = cv->h, w = cv->w, c = cv->cin, pw = cnn_pad_w(cv), run = CNN_K * c;
    cnn_pad_image(cv, img, pad);
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++) {
            fs_real *row = col + (y * w + x) * cv->k;
            for (size_t ky = 0; ky < CNN_K; ky++) {
                const fs_real *src = pad + ((y + ky) * pw + x) * c;
                for (size_t i = 0; i < run; i++) row[ky * run + i] = src[i];
            }
        }
}

/* The adjoint of im2col for one image: din (h x w x cin) := sum of every patch entry back onto
 * its pixel, accumulated in the padded image whose border is then dropped. Each pixel receives
 * the same additions in the same order, starting from 0, as summing straight into din would. */
static void cnn_col2im(const cnn_conv *cv, const fs_real *col, fs_real *pad, fs_real *din)
{
    size_t h = cv->h, w = cv->w, c = cv->cin, pw = cnn_pad_w(cv), run = CNN_K * c;
    memset(pad, 0, cnn_pad_len(cv) * sizeof *pad);
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++) {
            const fs_real *row = col + (y * w + x) * cv->k;
            for (size_t ky = 0; ky < CNN_K; ky++) {
                fs_real *dst = pad + ((y + ky) * pw + x) * c;
                for (size_t i = 0; i < run; i++) dst[i] += row[ky * run + i];
            }
        }
    for (size_t y = 0; y < h; y++)
        memcpy(din + y * w * c, pad + ((y + CNN_PAD) * pw + CNN_PAD) * c, w * c * sizeof *din);
}

/* ---- layers ---- */

/* Convolutions run image by image, so that one image's patches (627 KB for conv2 at 28x28) are
 * still in cache when the GEMM packs them right after im2col wrote them, and one image's patch
 * gradient when col2im reads it. The rows of an image's GEMM are the same dot products, summed
 * in the same order, as in one GEMM over all the slice's images with the AVX-512 kernels this
 * was measured with (SkylakeX, Cooperlake); OpenBLAS's Haswell kernels round some of them
 * differently by the number of rows. The weight gradient is one GEMM over the whole slice. */

/* out (n*h*w x cout, i.e. NHWC) := im2col(in) W^T + b: a dense layer over the patches, which
 * are left in col (n*h*w x k) for the backward pass. The ReLU is left to the pool that follows
 * (cnn_pool_forward). */
static void cnn_conv_forward(const cnn_conv *cv, const fs_real *w, const fs_real *in, size_t n,
                             fs_real *pad, fs_real *col, fs_real *out)
{
    size_t hw = cv->h * cv->w;
    for (size_t b = 0; b < n; b++) {
        fs_real *cb = col + b * hw * cv->k;
        cnn_im2col(cv, in + b * hw * cv->cin, pad, cb);
        fs_nn_dense_forward(w + cv->wo, w + cv->bo, cb, hw, cv->k, cv->cout, false,
                            out + b * hw * cv->cout);
    }
}

/* A convolution's backward pass: din := col2im(dout W) first, with the weights before they
 * learn, when din is not NULL (dcol holds one image's patch gradient); then the layer learns
 * from dout and the patches as how says (gradient or fused step). col holds im2col(in) on entry
 * when `patches`; else it is rebuilt from in. */
static void cnn_conv_learn(const cnn_conv *cv, const fs_real *w, const fs_real *in,
                           const fs_real *dout, size_t n, const fs_nn_learn *how, bool patches,
                           fs_real *pad, fs_real *col, fs_real *dcol, fs_real *din)
{
    size_t hw = cv->h * cv->w;
    for (size_t b = 0; din && b < n; b++) {
        fs_nn_dense_backprop(w + cv->wo, dout + b * hw * cv->cout, hw, cv->k, cv->cout, dcol);
        cnn_col2im(cv, dcol, pad, din + b * hw * cv->cin);
    }
    for (size_t b = 0; !patches && b < n; b++)
        cnn_im2col(cv, in + b * hw * cv->cin, pad, col + b * hw * cv->k);
    fs_nn_dense_learn(how, dout, col, n * hw, cv->k, cv->cout, cv->wo, cv->bo);
}

/* out (n x out) := in W^T + b, ReLU'd when relu. */
static void cnn_fc_forward(const cnn_fc *f, const fs_real *w, const fs_real *in, size_t n, bool relu,
                           fs_real *out)
{
    fs_nn_dense_forward(w + f->wo, w + f->bo, in, n, f->in, f->out, relu, out);
}

/* The same for a fully connected layer: din := dout W (not masked: the caller knows which
 * nonlinearity sits below), then the layer learns from dout and in. */
static void cnn_fc_learn(const cnn_fc *f, const fs_real *w, const fs_real *in, const fs_real *dout,
                         size_t n, const fs_nn_learn *how, fs_real *din)
{
    fs_nn_dense_backprop(w + f->wo, dout, n, f->in, f->out, din);
    fs_nn_dense_learn(how, dout, in, n, f->in, f->out, f->wo, f->bo);
}

/* The ReLU'd window of one channel: its four pixels top-left, top-right, bottom-left,
 * bottom-right, and their max. NaN never reaches the comparisons (the ReLU maps it to 0). */
typedef struct cnn_win {
    fs_real v[4], max;
} cnn_win;

static fs_real cnn_relu(fs_real a)
{
    return a > 0 ? a : 0;
}

static cnn_win cnn_window(const fs_real *top, const fs_real *bottom, size_t c)
{
    cnn_win q = {.v = {cnn_relu(top[0]), cnn_relu(top[c]), cnn_relu(bottom[0]),
                       cnn_relu(bottom[c])}};
    q.max = q.v[0];
    for (int k = 1; k < 4; k++) q.max = q.v[k] > q.max ? q.v[k] : q.max;
    return q;
}

/* ReLU then 2x2 stride-2 max-pool of n NHWC images (h x w x c, the conv's pre-activation) into
 * out. The ReLU is applied to the four candidates here rather than to the whole conv output in
 * a pass of its own: max and ReLU commute. No argmax is kept: backward finds it again from the
 * same pre-activation (cnn_pool_backward), and branch-free loops over the channels vectorise. */
static void cnn_pool_forward(const fs_real *in, size_t n, size_t h, size_t w, size_t c,
                             fs_real *out)
{
    size_t j = 0;
    for (size_t b = 0; b < n; b++)
        for (size_t oy = 0; oy < h / 2; oy++)
            for (size_t ox = 0; ox < w / 2; ox++, j += c) {
                const fs_real *t = in + ((b * h + 2 * oy) * w + 2 * ox) * c, *u = t + w * c;
                for (size_t ch = 0; ch < c; ch++) out[j + ch] = cnn_window(t + ch, u + ch, c).max;
            }
}

/* Backward through the pool and the ReLU, in place: act (n x h x w x c, the conv's
 * pre-activation) becomes the gradient of that pre-activation. Only each window's argmax, the
 * first of its equal maxima in the order above, receives dpool, and only where the ReLU was
 * active (the max > 0). Every entry is written, so nothing is cleared first. */
static void cnn_pool_backward(fs_real *act, const fs_real *dpool, size_t n, size_t h, size_t w,
                              size_t c)
{
    size_t j = 0;
    for (size_t b = 0; b < n; b++)
        for (size_t oy = 0; oy < h / 2; oy++)
            for (size_t ox = 0; ox < w / 2; ox++, j += c) {
                fs_real *t = act + ((b * h + 2 * oy) * w + 2 * ox) * c, *u = t + w * c;
                for (size_t ch = 0; ch < c; ch++) {
                    cnn_win q = cnn_window(t + ch, u + ch, c);
                    /* left: the gradient not yet given to an earlier pixel equal to the max
                     * (selects, not branches, so the loop vectorises); the last pixel is the
                     * max when no earlier one is */
                    fs_real dp = dpool[j + ch], left = q.max > 0 ? dp : 0, d[4];
                    for (int k = 0; k < 3; k++) {
                        d[k] = q.v[k] == q.max ? left : 0;
                        left = q.v[k] == q.max ? 0 : left;
                    }
                    d[3] = left;
                    t[ch] = d[0], t[c + ch] = d[1], u[ch] = d[2], u[c + ch] = d[3];
                }
            }
}

/* ---- the network ---- */

/* The convolutional half of the forward pass of n <= slice images: p2 (n x f1.in) := the second
 * pool's output, the FC layers' input. */
static void cnn_features(const cnn_impl *im, const fs_real *w, const fs_dataset *ds,
                         const uint32_t *rows, size_t n, fs_real *buf, fs_real *p2)
{
    const cnn_buf *o = &im->off;
    const cnn_conv *c1 = &im->c1, *c2 = &im->c2;
    fs_nn_gather(ds, rows, n, buf + o->x);
    cnn_conv_forward(c1, w, buf + o->x, n, buf + o->pad, buf + o->col, buf + o->a1);
    cnn_pool_forward(buf + o->a1, n, c1->h, c1->w, c1->cout, buf + o->p1);
    cnn_conv_forward(c2, w, buf + o->p1, n, buf + o->pad, buf + o->col, buf + o->a2);
    cnn_pool_forward(buf + o->a2, n, c2->h, c2->w, c2->cout, p2);
}

/* Forward pass of n <= slice images; returns their logits (n x n_classes) in scratch. */
static fs_real *cnn_forward(const cnn_impl *im, const fs_real *w, const fs_dataset *ds,
                           const uint32_t *rows, size_t n, fs_real *buf)
{
    const cnn_buf *o = &im->off;
    cnn_features(im, w, ds, rows, n, buf, buf + o->p2);
    cnn_fc_forward(&im->f1, w, buf + o->p2, n, true, buf + o->f1);
    cnn_fc_forward(&im->f2, w, buf + o->f1, n, false, buf + o->z);
    return buf + o->z;
}

/* Backward pass of one slice from dz (n x n_classes, already dL/dlogits of the batch mean),
 * every layer learning as how says: grad := beta grad + this slice's part (beta = 0 on the first
 * slice spares a memset and a read of the whole gradient, 13 MB for the 28x28 network), or the
 * fused step in place. The input gradient of conv1 is never needed, so it is skipped. */
static void cnn_backward(const cnn_impl *im, const fs_real *w, size_t n, const fs_nn_learn *how,
                         fs_real *buf)
{
    const cnn_buf *o = &im->off;
    const cnn_conv *c1 = &im->c1, *c2 = &im->c2;
    fs_real *df1 = buf + o->df1, *f1 = buf + o->f1;
    cnn_fc_learn(&im->f2, w, f1, buf + o->z, n, how, df1);
    fs_nn_relu_mask(df1, f1, n * im->f1.out);
    cnn_fc_learn(&im->f1, w, buf + o->p2, df1, n, how, buf + o->dp2);
    cnn_pool_backward(buf + o->a2, buf + o->dp2, n, c2->h, c2->w, c2->cout);
    cnn_conv_learn(c2, w, buf + o->p1, buf + o->a2, n, how, true, buf + o->pad, buf + o->col,
                   buf + im->head.dcol, buf + o->dp1);
    cnn_pool_backward(buf + o->a1, buf + o->dp1, n, c1->h, c1->w, c1->cout);
    cnn_conv_learn(c1, w, buf + o->x, buf + o->a1, n, how, false, buf + o->pad, buf + o->col, NULL,
                   NULL);
}

/* fs_model_ops.sgd_step, for a batch that fits one slice (step_max_batch): every layer's delta
 * must come from the weights before the step. */
static double cnn_sgd_step(const fs_model *m, fs_real *w, const fs_dataset *ds,
                           const uint32_t *rows, size_t n, double lr, fs_model_scratch *s)
{
    fs_nn_check(m, ds, n, s);
    const cnn_impl *im = m->impl;
    fs_assert(n <= im->slice);
    if (n == 0) return 0;
    double inv_n = 1.0 / (double)n;
    fs_real *z = cnn_forward(im, w, ds, rows, n, s->buf);
    double loss = fs_nn_softmax_xent(ds, rows, n, (size_t)m->n_classes, inv_n, z) * inv_n;
    if (isfinite(loss)) cnn_backward(im, w, n, &(fs_nn_learn){.step = w, .lr = lr}, s->buf);
    return loss;
}

/* The first slice writes grad, later ones accumulate into it; each slice's dL/dz is scaled by
 * 1/n, the whole batch's, so the sum over slices is the batch mean. */
static double cnn_loss_grad(const fs_model *m, const fs_real *w, const fs_dataset *ds,
                            const uint32_t *rows, size_t n, fs_real *grad, fs_model_scratch *s)
{
    fs_nn_check(m, ds, n, s);
    if (n == 0) {
        memset(grad, 0, m->n_params * sizeof *grad);
        return 0;
    }
    const cnn_impl *im = m->impl;
    double loss = 0, inv_n = 1.0 / (double)n;
    for (size_t at = 0; at < n; at += im->slice) {
        size_t k = n - at < im->slice ? n - at : im->slice;
        fs_real *z = cnn_forward(im, w, ds, rows + at, k, s->buf);
        loss += fs_nn_softmax_xent(ds, rows + at, k, (size_t)m->n_classes, inv_n, z);
        cnn_backward(im, w, k, &(fs_nn_learn){.grad = grad, .beta = at ? 1 : 0}, s->buf);
    }
    return loss * inv_n;
}

static void cnn_predict(const fs_model *m, const fs_real *w, const fs_dataset *ds,
                        const uint32_t *rows, size_t n, double *out_probs, fs_model_scratch *s)
{
    fs_nn_check(m, ds, n, s);
    const cnn_impl *im = m->impl;
    const cnn_head_buf *t = &im->head;
    size_t c = (size_t)m->n_classes, d = im->f1.in;
    fs_real *buf = s->buf;
    for (size_t at = 0; at < n; at += t->rows) {
        size_t len = n - at < t->rows ? n - at : t->rows;
        for (size_t i = 0; i < len; i += im->slice) {
            size_t k = len - i < im->slice ? len - i : im->slice;
            cnn_features(im, w, ds, rows + at + i, k, buf, buf + t->p2 + i * d);
        }
        cnn_fc_forward(&im->f1, w, buf + t->p2, len, true, buf + t->f1);
        /* FC2 (10 outputs): each row's logits depend on that row alone (fs_nn_dense_predict) */
        fs_nn_dense_predict(w + im->f2.wo, w + im->f2.bo, buf + t->f1, len, im->f2.in, im->f2.out,
                            false, buf + t->z);
        fs_nn_softmax_probs(buf + t->z, len, c, out_probs + at * c);
    }
}

static void cnn_free(fs_model *m)
{
    if (!m) return;
    free(m->impl);
    free(m);
}

static const fs_model_ops cnn_ops = {
    .name = "cnn",
    .init = cnn_init,
    .loss_grad = cnn_loss_grad,
    .predict = cnn_predict,
    .free = cnn_free,
    .sgd_step = cnn_sgd_step,
    .reads_u8 = true, /* rows only through fs_nn_gather / fs_nn_rows */
};

/* ---- construction ---- */

/* Shapes and parameter offsets of the four layers; returns n_params. */
static size_t cnn_shapes(cnn_impl *im, size_t h, size_t w, size_t c, size_t n_classes)
{
    im->c1 = (cnn_conv){.h = h, .w = w, .cin = c, .cout = CNN_C1, .k = CNN_K * CNN_K * c};
    im->c2 = (cnn_conv){.h = h / 2, .w = w / 2, .cin = CNN_C1, .cout = CNN_C2,
                        .k = CNN_K * CNN_K * CNN_C1};
    im->f1 = (cnn_fc){.in = (h / 4) * (w / 4) * CNN_C2, .out = CNN_FC};
    im->f2 = (cnn_fc){.in = CNN_FC, .out = n_classes};
    size_t p = 0;
    im->c1.wo = p, p += im->c1.cout * im->c1.k, im->c1.bo = p, p += im->c1.cout;
    im->c2.wo = p, p += im->c2.cout * im->c2.k, im->c2.bo = p, p += im->c2.cout;
    im->f1.wo = p, p += im->f1.out * im->f1.in, im->f1.bo = p, p += im->f1.out;
    im->f2.wo = p, p += im->f2.out * im->f2.in, im->f2.bo = p, p += im->f2.out;
    return p;
}

/* Scratch offsets for a slice of `sl` images; returns the total in fs_real entries. */
static size_t cnn_buffers(cnn_impl *im, size_t sl)
{
    const cnn_conv *c1 = &im->c1, *c2 = &im->c2;
    size_t x = c1->h * c1->w * c1->cin, a1 = c1->h * c1->w * c1->cout;
    size_t a2 = c2->h * c2->w * c2->cout, col1 = c1->h * c1->w * c1->k;
    size_t col2 = c2->h * c2->w * c2->k, col = col1 > col2 ? col1 : col2;
    size_t pad1 = cnn_pad_len(c1), pad2 = cnn_pad_len(c2), pad = pad1 > pad2 ? pad1 : pad2;
    size_t p1 = a1 / 4, p2 = a2 / 4;
    cnn_buf *o = &im->off;
    size_t at = 0;
    o->x = at, at += sl * x;
    o->a1 = at, at += sl * a1;
    o->p1 = at, at += sl * p1;
    o->dp1 = at, at += sl * p1;
    o->a2 = at, at += sl * a2;
    o->p2 = at, at += sl * p2;
    o->dp2 = at, at += sl * p2;
    o->f1 = at, at += sl * im->f1.out;
    o->df1 = at, at += sl * im->f1.out;
    o->z = at, at += sl * im->f2.out;
    o->col = at, at += sl * col;
    o->pad = at, at += pad;
    return at;
}

/* Predict's FC region after the slice's `at` entries, for min(max_batch, CNN_HEAD_ROWS) rows,
 * and backward's dcol over it; returns the new total. */
static size_t cnn_head_buffers(cnn_impl *im, size_t at, size_t max_batch)
{
    cnn_head_buf *t = &im->head;
    size_t dcol = im->c2.h * im->c2.w * im->c2.k;
    t->rows = max_batch < CNN_HEAD_ROWS ? max_batch : CNN_HEAD_ROWS;
    t->dcol = at;
    t->p2 = at, at += t->rows * im->f1.in;
    t->f1 = at, at += t->rows * im->f1.out;
    t->z = at, at += t->rows * im->f2.out;
    return at > t->dcol + dcol ? at : t->dcol + dcol;
}

/* Forward FLOPs (2 x multiply-adds) of the four GEMMs per image; pools and ReLUs not counted. */
static double cnn_flops(const cnn_impl *im)
{
    const cnn_conv *c1 = &im->c1, *c2 = &im->c2;
    double macs = (double)(c1->h * c1->w) * (double)(c1->cout * c1->k) +
                  (double)(c2->h * c2->w) * (double)(c2->cout * c2->k) +
                  (double)(im->f1.in * im->f1.out) + (double)(im->f2.in * im->f2.out);
    return 2.0 * macs;
}

fs_model *fs_cnn_new(size_t height, size_t width, size_t channels, int n_classes,
                     size_t max_batch)
{
    fs_assert(height >= 4 && height % 4 == 0 && width >= 4 && width % 4 == 0);
    fs_assert(channels >= 1 && n_classes >= 1 && max_batch >= 1);
    /* BLAS takes int dimensions and the pools int32 indices: keep one slice's tensors, and
     * FC1's weight matrix, below 2^31 entries. */
    if (height > 1u << 14 || width > 1u << 14 || channels > 1u << 14 ||
        (size_t)n_classes > 1u << 20 || height * width * 2048 > INT32_MAX)
        return NULL;
    fs_model *m = calloc(1, sizeof *m);
    cnn_impl *im = calloc(1, sizeof *im);
    if (!m || !im) goto fail;
    m->n_params = cnn_shapes(im, height, width, channels, (size_t)n_classes);
    size_t per_image = cnn_buffers(im, 1);
    if (per_image > INT32_MAX / 2) goto fail;
    im->slice = CNN_SLICE_BUDGET / per_image;
    im->slice = im->slice < 1 ? 1 : im->slice > max_batch ? max_batch : im->slice;
    m->ops = &cnn_ops;
    m->step_max_batch = im->slice;
    m->n_features = height * width * channels;
    m->n_classes = n_classes;
    m->max_batch = max_batch;
    m->flops_per_sample = cnn_flops(im);
    m->scratch_reals = cnn_head_buffers(im, cnn_buffers(im, im->slice), max_batch);
    m->impl = im;
    return m;
fail:
    free(im);
    free(m);
    return NULL;
}
