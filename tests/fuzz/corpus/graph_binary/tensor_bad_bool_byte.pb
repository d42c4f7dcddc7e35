
 
cConst"
valueB	B