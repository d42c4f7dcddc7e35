
(
xInput"
dtype8"
shape2


aAddxa