
(
xInput"
dtype8"
shape2

(
wInput"
dtype8"
shape2

$
yMatMulxw"
transpose_a