
(
xInput"
dtype8"
shape2


yInput"
dtype8