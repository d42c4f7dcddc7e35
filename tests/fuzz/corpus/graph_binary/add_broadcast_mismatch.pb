
(
xInput"
dtype8"
shape2

'
zInput"
dtype8"
shape2


yAddxz