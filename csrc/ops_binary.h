/* ops_binary.h: this group's kernels, included per type and instruction set by
 * kernels_body.h (see FL_EW_DEFINE and FL_ROW_DEFINE there). */
