
(
xInput"
dtype8"
shape2


yTanhxx