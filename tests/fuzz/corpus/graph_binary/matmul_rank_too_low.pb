
(
xInput"
dtype8"
shape2

'
vInput"
dtype8"
shape2


yMatMulxv